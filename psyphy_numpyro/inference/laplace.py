"""psyphy's ``LaplaceApproximation``: a Gaussian around a MAP fit.

``hessian="exact"`` differentiates the log density twice; ``"fisher"``
uses the expected curvature of the Bernoulli likelihood plus the prior's
(see :mod:`psyphy_numpyro.core.infer.laplace`).
"""

from __future__ import annotations

from typing import Any

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import (
    estimator_note,
    fixed_density_kwargs,
    fixed_density_model,
)
from psyphy_numpyro.core.infer.laplace import (
    HESSIANS,
    fisher_precision,
    gaussian_from_precision,
    laplace_approximation,
    rotation_directions,
)
from psyphy_numpyro.core.infer.progress import say
from psyphy_numpyro.core.lapse import unconstrain_lapse
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.posterior.laplace import LaplacePosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior as MAPPosterior  # as psyphy


class LaplaceApproximation(InferenceEngine):
    """psyphy's Laplace approximation: a Gaussian at the MAP.

    Parameters
    ----------
    hessian
        ``"exact"`` or ``"fisher"`` (see the module docstring); ``None``
        picks ``"exact"`` for the MVP and ``"fisher"`` for the full WPPM.
    seed
        Full WPPM: seed of the fixed Monte Carlo draws of the density (the
        same draws :class:`~psyphy_numpyro.NUTSSampler` uses for this seed),
        unless the MAP posterior carries its own ``model_kwargs``. With the
        estimator unset, the density uses the deterministic ``"quadrature"``
        rule where it applies, as NUTSSampler's, and there are no draws; the
        posterior's ``model`` carries that choice.
    fix_rotations
        Full WPPM: give no mass to the directions that rotate ``W`` in its
        embedding (see the module docstring). False inverts the whole matrix.

    Examples
    --------
    >>> laplace = LaplaceApproximation()  # then laplace.from_map(map_fit, data)
    """

    def __init__(
        self, hessian: str | None = None, *, seed: int = 0, fix_rotations: bool = True
    ) -> None:
        if hessian is not None and hessian not in HESSIANS:
            raise ValueError(
                f"hessian must be one of {HESSIANS} or None, got {hessian!r}."
            )
        self.hessian = hessian
        self.seed = check.seed("seed", seed)
        self.fix_rotations = bool(fix_rotations)

    def fit(self, model: Any, data: Any, init_params: Any = None, *,
            map_optimizer: Any = None) -> LaplacePosterior:
        """Fit the MAP (default :class:`~psyphy_numpyro.MAPOptimizer` settings), then
        build the Gaussian around it (:meth:`from_map`)."""
        from psyphy_numpyro.inference.map_optimizer import MAPOptimizer

        optimizer = MAPOptimizer() if map_optimizer is None else map_optimizer
        map_posterior = optimizer.fit(model, data, init_params=init_params)
        return self.from_map(map_posterior, data)

    def from_map(self, map_posterior: Any, data: Any = None) -> LaplacePosterior:
        """Build the Gaussian around a MAP fit.

        Parameters
        ----------
        map_posterior
            A :class:`~psyphy_numpyro.MAPPosterior` (anything with ``params``
            and a psyphy_numpyro ``model``).
        data
            The trials the MAP was fitted on. Needed unless ``map_posterior``
            carries them as ``trials``.

        Returns
        -------
        LaplacePosterior

        Warns
        -----
        RuntimeWarning
            When the curvature is not positive definite (the point is not a
            local maximum of the posterior); the result then cannot be sampled.
        """
        if not hasattr(map_posterior, "params") or not hasattr(map_posterior, "model"):
            raise TypeError(
                "map_posterior must be a MAP fit with .params and .model (e.g. from "
                f"MAPOptimizer.fit), got {type(map_posterior).__name__}."
            )
        given = check.wppm(map_posterior.model, "map_posterior.model")
        model = fixed_density_model(given)
        params = model.check_params(map_posterior.params, "map_posterior.params")
        if data is None:
            trials = getattr(map_posterior, "trials", None)
            if trials is None:
                raise ValueError(
                    "data is required: pass the trials the MAP was fitted on, "
                    "LaplaceApproximation().from_map(map_posterior, data)."
                )
        else:
            trials = model.trials(data)
        carried = None if model is not given else getattr(map_posterior, "model_kwargs",
                                                           None)
        model_kwargs = carried or fixed_density_kwargs(model, trials, self.seed)
        if model is not given:
            say(f"LaplaceApproximation: {estimator_note(model, True)}.", once=True)
        null = None
        if self.fix_rotations and not model.is_mvp:
            null = rotation_directions(params, model.prior.site)
        hessian = self.hessian or ("exact" if model.is_mvp else "fisher")
        params = unconstrain_lapse(model, params)  # the Gaussian's coordinates
        if hessian == "exact":
            result = laplace_approximation(
                model.numpyro_model, params, *trials,
                null_directions=null, **model_kwargs,
            )
        else:
            H = fisher_precision(model, params, trials, model_kwargs.get("mc_samples"))
            result = gaussian_from_precision(params, H, null)
        return LaplacePosterior(result, model, trials, model_kwargs, hessian)
