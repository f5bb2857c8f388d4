"""Placement from the WPPM posterior: batches that maximise expected information.

:class:`InfoGainPlacement` follows psyphy's placement protocol,
``propose(posterior, batch_size) -> TrialBatch``. Candidates come from
:func:`~psyphy_numpyro.core.candidates.posterior_candidates`; their scores and
the greedy batch from :mod:`psyphy_numpyro.core.acquisition`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.acquisition import (
    CRITERIA,
    greedy_batch,
    linear_threshold_batch,
    linearise,
    threshold_summary,
)
from psyphy_numpyro.core.candidates import check_bounds, posterior_candidates
from psyphy_numpyro.core.design import reference_points
from psyphy_numpyro.core.draws import p_correct_draws, posterior_draws
from psyphy_numpyro.core.readouts import threshold_criterion
from psyphy_numpyro.data.dataset import TrialBatch
from psyphy_numpyro.posterior.posterior import MAPPosterior

#: Monte Carlo samples per p(correct) when the model's rule needs them (the
#: same samples for every draw and candidate, so they cancel in the scores).
DEFAULT_NUM_SAMPLES = 256

#: Posterior draws per proposal: the reweighted criteria average over them; the
#: linearised one only estimates the posterior covariance from them, cheaply.
DEFAULT_NUM_DRAWS = {"bald": 64, "threshold": 64, "threshold_linear": 2048}


class InfoGainPlacement:
    """Choose trials where the posterior expects to learn most (BALD or thresholds).

    Parameters
    ----------
    model
        The WPPM being fitted.
    criterion
        ``"bald"``: mutual information between the next answer and the
        parameters. ``"threshold"``: expected fall of the posterior variance of
        the log threshold radii at ``query_refs``, by reweighting the draws.
        ``"threshold_linear"``: the same fall for a Gaussian posterior with
        p(correct) and the radii linear in the parameters, free of sampling
        noise given the draws
        (:func:`~psyphy_numpyro.core.acquisition.linear_threshold_batch`).
    bounds
        ``(d, 2)`` box of ``(low, high)`` holding every stimulus; default
        ``[-1, 1]^d``.
    seed
        Seed of the candidates and fantasies: proposal ``k`` depends only on
        ``seed``, ``k`` and the posterior.
    references
        References to choose among, shape ``(R, d)``; default a fresh
        scrambled Sobol set over ``bounds`` per proposal.
    query_refs
        ``"threshold"``, ``"threshold_linear"``: references whose thresholds
        should sharpen; default the cell centres of a 5-per-axis grid in
        ``bounds`` (in ``[-1, 1]^2`` the readouts' default grid,
        :func:`~psyphy_numpyro.reference_grid`); 4 per axis in 3-D, 64 Sobol
        points beyond.
    num_candidates
        Candidate trials scored per proposal.
    num_draws
        Posterior draws per proposal; default 64, or 2048 for
        ``"threshold_linear"`` (:data:`DEFAULT_NUM_DRAWS`).
    num_fantasies
        Conditioned weightings per greedy score (:func:`greedy_batch`; not
        used by ``"threshold_linear"``).
    distance_range
        Candidate distances as multiples of the posterior threshold.
    num_samples
        Monte Carlo samples of p(correct) for the ``"mc"``/``"psyphy"`` rules.

    Examples
    --------
    >>> from psyphy_numpyro import WPPM, Prior
    >>> placement = InfoGainPlacement(WPPM(input_dim=2, prior=Prior.default(2)))
    >>> placement.criterion
    'bald'
    """

    def __init__(
        self,
        model: Any,
        criterion: str = "bald",
        *,
        bounds: Any = None,
        seed: int = 0,
        references: Any = None,
        query_refs: Any = None,
        num_candidates: int = 512,
        num_draws: int | None = None,
        num_fantasies: int = 16,
        distance_range: tuple[float, float] = (0.2, 3.0),
        num_samples: int = DEFAULT_NUM_SAMPLES,
    ) -> None:
        self.model = check.wppm(model)
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}.")
        self.criterion = criterion
        spec = self.model.spec
        self.bounds = check_bounds(bounds, spec)
        self.seed = check.seed("seed", seed)
        self.references = None if references is None else self._inside(
            "references", references)
        if query_refs is None:  # cell centres: in [-1, 1]^2, reference_grid(5)
            d = spec.input_dim
            per_axis = {1: 5, 2: 5, 3: 4}.get(d)
            unit = reference_points(per_axis**d if per_axis else 64, d,
                                    method="grid" if per_axis else "sobol", seed=self.seed)
            query_refs = self.bounds[:, 0] + (self.bounds[:, 1] - self.bounds[:, 0]) * (
                0.5 * (unit + 1.0))
        self.query_refs = self._inside("query_refs", query_refs)
        self.num_candidates = check.positive_int("num_candidates", num_candidates)
        self.num_draws = check.positive_int(
            "num_draws", DEFAULT_NUM_DRAWS[criterion] if num_draws is None else num_draws,
            minimum=2)
        self.num_fantasies = check.positive_int("num_fantasies", num_fantasies)
        lo, hi = (check.positive(f"distance_range[{i}]", v)
                  for i, v in enumerate(distance_range))
        if not lo < hi:
            raise ValueError(f"distance_range must be (low, high) with low < high, "
                             f"got {distance_range!r}.")
        self.distance_range = (lo, hi)
        self.num_samples = check.positive_int("num_samples", num_samples)
        self.num_proposals = 0
        self.last_scores: np.ndarray | None = None

    def _inside(self, name: str, points: Any) -> np.ndarray:
        arr = check.finite_array(name, points, ndim=2)
        d = self.model.input_dim
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        if arr.shape[1:] != (d,) or arr.shape[0] == 0:
            raise ValueError(f"{name} must have shape (n, {d}), got {arr.shape}.")
        if np.any((arr < low) | (arr > high)):
            raise ValueError(f"{name} must lie inside bounds {self.bounds.tolist()}.")
        return arr

    def propose(self, posterior: Any, batch_size: int, *,
                index: int | None = None) -> TrialBatch:
        """The next ``batch_size`` trials, chosen greedily from the candidates.

        Parameters
        ----------
        posterior
            Any posterior of ``model`` that holds draws (Laplace, SVI, NUTS,
            MALA or a stored fit).
        batch_size
            Trials to propose.
        index
            Which proposal this is (its randomness); default the count of
            earlier calls, so a fresh placement replays the same sequence.

        Returns
        -------
        TrialBatch
            ``(batch_size, 2, d)`` stimuli (reference, comparison); the score
            of each pick is in :attr:`last_scores`.
        """
        if isinstance(posterior, MAPPosterior):
            raise TypeError(
                "InfoGainPlacement needs posterior draws, and a MAP fit is one point. "
                "Build the Gaussian around it: LaplaceApproximation().from_map(map_fit, "
                "data), or fit with LaplaceApproximation().fit(model, data)."
            )
        if getattr(posterior, "model", None) is not None and (
                check.wppm(posterior.model).spec != self.model.spec):
            raise ValueError("posterior is of another model than this placement's.")
        batch_size = check.positive_int("batch_size", batch_size)
        if batch_size > self.num_candidates:
            raise ValueError(f"batch_size={batch_size} exceeds num_candidates="
                             f"{self.num_candidates}.")
        if index is None:
            index = self.num_proposals
        index = check.positive_int("index", index, minimum=0)
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), index)
        key_draws, key_mc, key_batch = jax.random.split(key, 3)
        _, draws = posterior_draws(posterior, model=None, num_draws=self.num_draws,
                                   key=key_draws)
        spec = self.model.spec
        criterion = threshold_criterion(spec)
        ref, probe = posterior_candidates(
            spec, draws, self.num_candidates, bounds=self.bounds,
            seed=np.random.SeedSequence([self.seed, index]), references=self.references,
            distance_range=self.distance_range, criterion=criterion,
        )
        mc_samples = spec.draw_mc_samples(key_mc, None, self.num_samples)
        if self.criterion == "threshold_linear":
            batch = linear_threshold_batch(
                linearise(spec, draws, ref, probe, mc_samples, self.query_refs), batch_size)
        else:
            p = p_correct_draws(spec, draws, ref, probe, mc_samples)
            summary = (threshold_summary(spec, draws, self.query_refs)
                       if self.criterion == "threshold" else None)
            batch = greedy_batch(key_batch, p, batch_size, criterion=self.criterion,
                                 summary=summary, num_fantasies=self.num_fantasies)
        picks = np.asarray(batch.index)
        self.num_proposals = index + 1
        self.last_scores = np.asarray(batch.score, dtype=float)
        return TrialBatch(np.stack([ref[picks], probe[picks]], axis=1).astype(float))
