"""Space-filling (reference, comparison) pairs: the baselines of posterior placement.

:class:`PairPlacement` places both stimuli of a trial: the reference fills the
box, the comparison sits within ``radius`` of it per axis. ``"sobol"``
continues the scrambled Sobol sequence of an
:class:`~psyphy_numpyro.experiment.session.ExperimentSession`'s warm-up
(:func:`~psyphy_numpyro.core.design.sobol_pairs`); ``"random"`` draws them
uniformly. psyphy's :class:`~psyphy_numpyro.trial_placement.sobol.SobolPlacement`
keeps one fixed reference instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.design import pairs_in_box, sobol_pairs
from psyphy_numpyro.data.dataset import TrialBatch

METHODS = ("sobol", "random")


class PairPlacement:
    """Space-filling trials that ignore the posterior.

    Parameters
    ----------
    bounds
        ``(d, 2)`` box of ``(low, high)`` per dimension.
    radius
        Largest offset of a comparison from its reference, per axis (at most
        half the box's narrowest side).
    method
        ``"sobol"`` or ``"random"``.
    seed
        Seed of the sequence (the session's seed continues its warm-up).
    start
        ``"sobol"``: position in the sequence of the first proposed trial (a
        session's ``warmup`` continues after its warm-up).

    Examples
    --------
    >>> placement = PairPlacement([[-1, 1], [-1, 1]], 0.25, start=200)
    >>> placement.propose(None, 4).to_numpy().shape
    (4, 2, 2)
    """

    def __init__(self, bounds: Any, radius: float, *, method: str = "sobol",
                 seed: int = 0, start: int = 0) -> None:
        box = check.finite_array("bounds", bounds, ndim=2)
        if box.shape[1:] != (2,) or not np.all(box[:, 0] < box[:, 1]):
            raise ValueError(
                f"bounds must be (low, high) pairs with low < high, got {box.tolist()}.")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        self.bounds, self.method = box, method
        self.radius = check.positive("radius", radius)
        self.seed = check.seed("seed", seed)
        self.start = check.positive_int("start", start, minimum=0)
        sobol_pairs(0, 1, box, self.radius, seed=self.seed)  # checks the radius
        self.num_proposals = 0

    def propose(self, posterior: Any, batch_size: int, *,
                index: int | None = None) -> TrialBatch:
        """The batch ``index`` (default: the next) of ``batch_size`` trials; posterior unused.

        ``"sobol"`` batch ``k`` holds sequence points ``start + k * batch_size``
        onward, so equal batch sizes continue the sequence without a gap.
        """
        del posterior
        batch_size = check.positive_int("batch_size", batch_size)
        index = self.num_proposals if index is None else check.positive_int(
            "index", index, minimum=0)
        self.num_proposals = index + 1
        if self.method == "sobol":
            ref, probe = sobol_pairs(self.start + index * batch_size, batch_size,
                                     self.bounds, self.radius, seed=self.seed)
        else:
            rng = np.random.default_rng([self.seed, index])
            points = rng.random((batch_size, 2 * self.bounds.shape[0]))
            ref, probe = pairs_in_box(points, self.bounds, self.radius)
        return TrialBatch(np.stack([ref, probe], axis=1))
