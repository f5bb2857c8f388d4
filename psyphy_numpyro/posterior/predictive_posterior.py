r"""Predictions averaged over a parameter posterior (psyphy 0.0.5's predictive API).

:class:`WPPMPredictivePosterior` draws ``n_samples`` parameter sets from any
posterior with ``params``, ``model`` and ``sample(n, *, key)`` (MAP, Laplace,
SVI, NUTS) and summarises a prediction over them by its mean and variance:

- ``threshold_pred=False``: p(correct) of given (reference, comparison)
  pairs. The full WPPM's Monte Carlo rule uses one fixed set of standard
  draws (``PRNGKey(config.default_key_seed)``, as psyphy's ``predict_prob``),
  so the spread across posterior draws is parameter uncertainty only.
- ``threshold_pred=True``: the threshold covariance :math:`S` at each
  reference, the ellipse :math:`\delta^T S^{-1} \delta = 1` on which
  p(correct) equals ``target_pc``. It is read out by
  :func:`~psyphy_numpyro.threshold_contour` (a root finder along
  ``n_theta`` directions on the deterministic quadrature p(correct) where it
  applies, one compiled call for all draws and references) and
  :func:`~psyphy_numpyro.fit_ellipse` (least squares in relative radius).

A MAP posterior repeats one point, so its variance is zero; NUTS, Laplace or
SVI draws give real bands (:attr:`WPPMPredictivePosterior.samples` holds the
per-draw values for percentiles).

Differences from psyphy 0.0.5, all deliberate: thresholds come from a
root finder on a deterministic p(correct) (quadrature, or common random
numbers) instead of a grid search with fresh Monte Carlo noise per grid
point, so ``ThresholdConfig``'s ``n_length``, ``bounds`` and ``chunk`` are
checked but do not change the result (a threshold beyond ``bounds`` is found
rather than clipped to it); ``n_theta`` defaults to 64 directions (psyphy:
16), because on fields drawn from the prior 16 directions miss the tips of
thin or lopsided contours, and the ellipse fitted to them missed the true
thresholds by up to 0.15 more than the best ellipse does; threshold mode
needs ``input_dim=2``; ``rsample`` with
``sample_shape=()`` returns one draw without a leading axis, as documented
(psyphy returns a leading axis of 1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.draws import p_correct_draws
from psyphy_numpyro.core.keys import default_draw_key, default_mc_key
from psyphy_numpyro.core.readouts import (
    covariance_field,
    fit_ellipse,
    threshold_contour,
)
from psyphy_numpyro.model.likelihood import (  # as in psyphy
    BernoulliTaskLikelihood as BernoulliTaskLikelihood,
)
from psyphy_numpyro.model.wppm import WPPM


@dataclass(frozen=True)
class ThresholdConfig:
    """Settings of :class:`WPPMPredictivePosterior`'s threshold mode.

    Parameters
    ----------
    n_theta
        Directions probed around each reference, evenly spaced on
        ``[0, 2 pi)``; at least 3 (the free entries of a 2 x 2 ``S``).
        Default 64 (psyphy 0.0.5: 16, too few for thin or lopsided contours;
        see the module docstring).
    n_length, bounds, chunk
        psyphy 0.0.5's grid-search size, distance range ``(min, max)`` and
        batch size. Checked and kept for porting; the root finder used here
        searches up to the edge of the stimulus domain at a fixed cost, so
        they do not change the result.
    target_pc
        p(correct) on the threshold ellipse (2/3 for the full WPPM's oddity
        rule, half-way from chance to 1).
    weighting
        How :func:`~psyphy_numpyro.fit_ellipse` weighs the directions:
        ``"relative"`` (default: least squares on the relative radius miss)
        or ``"uniform"`` (psyphy's least squares on ``1 / r**2``).
    """

    n_theta: int = 64
    n_length: int = 200
    bounds: tuple[float, float] = (5e-4, 0.3)
    target_pc: float = 2.0 / 3.0
    chunk: int = 2000
    weighting: str = "relative"

    def __post_init__(self) -> None:
        check.positive_int("n_theta", self.n_theta)
        check.positive_int("n_length", self.n_length)
        check.positive_int("chunk", self.chunk)
        check.open_unit_interval("target_pc", self.target_pc)
        if not isinstance(self.bounds, (tuple, list)) or len(self.bounds) != 2:
            raise ValueError(f"bounds must be a pair (min, max), got {self.bounds!r}.")
        lo = check.positive("bounds[0]", self.bounds[0])
        hi = check.positive("bounds[1]", self.bounds[1])
        if not lo < hi:
            raise ValueError(f"bounds must satisfy 0 < min < max, got {self.bounds!r}.")
        if self.weighting not in ("relative", "uniform"):
            raise ValueError(
                f"weighting must be 'relative' or 'uniform', got {self.weighting!r}."
            )


@runtime_checkable
class PredictivePosterior(Protocol):
    """Predictions at test stimuli summarised over a parameter posterior."""

    @property
    def mean(self) -> jnp.ndarray: ...

    @property
    def variance(self) -> jnp.ndarray: ...

    def rsample(self, sample_shape: tuple = (), *, key: jax.Array) -> jnp.ndarray: ...

    def cov_field(self, X: jnp.ndarray) -> jnp.ndarray: ...


class WPPMPredictivePosterior:
    """p(correct) or threshold covariances, averaged over a parameter posterior.

    Parameters
    ----------
    param_posterior
        Any posterior with ``params``, ``model`` (a
        :class:`~psyphy_numpyro.WPPM`) and ``sample(n, *, key)``.
    X
        ``threshold_pred=False``: (reference, comparison) pairs, shape
        ``(n_test, 2, input_dim)``. ``threshold_pred=True``: references,
        shape ``(n_test, 2)``.
    n_samples
        Posterior draws behind :attr:`mean`, :attr:`variance` and
        :meth:`cov_field`.
    threshold_pred
        Predict threshold covariances instead of p(correct).
    threshold_config
        :class:`ThresholdConfig` (default ``ThresholdConfig()``).
    key
        Key of the posterior draws; default ``PRNGKey(0)`` (psyphy's).

    Notes
    -----
    Moments are computed on first access of :attr:`mean` or :attr:`variance`;
    ``X`` and the configuration are checked then, before anything is compiled.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from psyphy_numpyro import WPPM, Prior, MAPPosterior
    >>> model = WPPM(Prior(input_dim=2, basis_degree=2))
    >>> post = MAPPosterior(model.init_params(jax.random.PRNGKey(0)), model)
    >>> X = jnp.array([[[0.0, 0.0], [0.1, 0.0]], [[0.5, 0.5], [0.5, 0.6]]])
    >>> pred = WPPMPredictivePosterior(post, X, n_samples=4)
    >>> pred.mean.shape, float(pred.variance.max())   # a MAP point has no spread
    ((2,), 0.0)
    """

    def __init__(
        self,
        param_posterior: Any,
        X: Any,
        n_samples: int = 100,
        threshold_pred: bool = False,
        threshold_config: ThresholdConfig | None = None,
        *,
        key: jax.Array | None = None,
    ) -> None:
        missing = [a for a in ("params", "model", "sample")
                   if not hasattr(param_posterior, a)]
        if missing:
            raise TypeError(
                "param_posterior must have .params, .model and .sample(n, *, key); "
                f"{type(param_posterior).__name__} lacks {missing}."
            )
        if not isinstance(param_posterior.model, WPPM):
            raise TypeError(
                "param_posterior.model must be a psyphy_numpyro.WPPM, got "
                f"{type(param_posterior.model).__name__}."
            )
        if threshold_config is not None and not isinstance(threshold_config,
                                                           ThresholdConfig):
            raise TypeError(
                "threshold_config must be a ThresholdConfig, got "
                f"{type(threshold_config).__name__}."
            )
        if not isinstance(threshold_pred, (bool, np.bool_)):
            raise TypeError(
                f"threshold_pred must be True or False, got {threshold_pred!r}."
            )
        self.param_posterior = param_posterior
        self.X = X
        self.n_samples = check.positive_int("n_samples", n_samples)
        self.threshold_pred = bool(threshold_pred)
        self.threshold_config = threshold_config
        self.key = default_draw_key(key)
        self._samples: jnp.ndarray | None = None
        self._mean: jnp.ndarray | None = None
        self._variance: jnp.ndarray | None = None
        self._computed = False

    @property
    def posterior(self) -> Any:
        """The parameter posterior (``param_posterior``)."""
        return self.param_posterior

    @property
    def model(self) -> WPPM:
        """The posterior's model."""
        return self.param_posterior.model

    # -- inputs ---------------------------------------------------------------------
    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        d = self.model.input_dim
        X = check.finite_array("X", self.X)
        if X.ndim != 3 or X.shape[1:] != (2, d):
            raise ValueError(
                f"X must hold (reference, comparison) pairs of shape (n_test, 2, {d}) "
                f"when threshold_pred=False, got shape {X.shape}; for thresholds pass "
                "bare reference points with threshold_pred=True."
            )
        return self.model.check_stimuli(X[:, 0], X[:, 1])

    def _refs(self) -> tuple[np.ndarray, ThresholdConfig]:
        model = self.model
        X = check.finite_array("X", self.X)
        if X.ndim != 2:
            raise ValueError(
                "threshold_pred=True expects bare reference points of shape "
                f"(n_test, {model.input_dim}), got shape {X.shape}; (reference, "
                "comparison) pairs are for threshold_pred=False."
            )
        if model.input_dim != 2 or X.shape[1] != 2:
            raise ValueError(
                "threshold_pred=True reads threshold ellipses in a 2-D stimulus "
                f"space; the model has input_dim={model.input_dim} and X has shape "
                f"{X.shape}."
            )
        cfg = self.threshold_config or ThresholdConfig()
        if cfg.n_theta < 3:
            raise ValueError(
                f"threshold_config.n_theta={cfg.n_theta} is too small: a 2 x 2 "
                "threshold covariance has 3 free entries, so at least 3 directions "
                "are needed."
            )
        return X, cfg

    # -- per-draw predictions --------------------------------------------------------
    def _predict(self, draws: dict) -> jnp.ndarray:
        """Per-draw values: ``(num_draws, n_test)`` or ``(num_draws, n_test, 2, 2)``."""
        if self.threshold_pred:
            refs, cfg = self._refs()
            return self._threshold_covariances(draws, refs, cfg)
        ref, probe = self._pairs()
        model = self.model
        mc_samples = None
        if not model.is_mvp:
            mc_samples = model.draw_mc_samples(default_mc_key(model), None)
        return p_correct_draws(model, draws, jnp.asarray(ref, jnp.float32),
                                jnp.asarray(probe, jnp.float32), mc_samples)

    def _threshold_covariances(self, draws: dict, refs: np.ndarray,
                               cfg: ThresholdConfig) -> jnp.ndarray:
        model = self.model
        contour = threshold_contour(model, draws, ref=refs, criterion=cfg.target_pc,
                                    num_angles=cfg.n_theta)
        fit = fit_ellipse(contour, weighting=cfg.weighting)
        num_draws = jax.tree.leaves(draws)[0].shape[0]
        shape = (num_draws, refs.shape[0], 2, 2)
        cov = np.broadcast_to(fit.cov[..., None, :, :] if model.is_mvp else fit.cov,
                              shape)
        valid = np.broadcast_to(fit.valid[..., None] if model.is_mvp else fit.valid,
                                shape[:2])
        reached = np.broadcast_to(
            np.all(contour.reached, axis=-1)[..., None] if model.is_mvp
            else np.all(contour.reached, axis=-1), shape[:2])
        if not np.all(valid & reached):
            warnings.warn(
                f"threshold_pred: at {int(np.sum(~reached))} of {reached.size} "
                f"(draw, reference) pairs some of the {cfg.n_theta} directions never "
                f"reach p(correct) = {cfg.target_pc:.4g} inside the stimulus domain, "
                "so their ellipse is fitted to the other directions; "
                f"{int(np.sum(~valid))} ellipse(s) could not be fitted at all and are "
                "NaN. Move the references inward or lower target_pc.",
                RuntimeWarning,
                stacklevel=4,
            )
        return jnp.asarray(cov)

    def _ensure_computed(self) -> None:
        if self._computed:
            return
        draws = self.param_posterior.sample(self.n_samples, key=self.key)
        samples = self._predict(draws)
        self._samples = samples
        self._mean = jnp.mean(samples, axis=0)
        self._variance = jnp.var(samples, axis=0)
        self._computed = True

    # -- psyphy's API ----------------------------------------------------------------
    @property
    def samples(self) -> jnp.ndarray:
        """Per-draw predictions behind :attr:`mean`: ``(n_samples, n_test)``, or
        ``(n_samples, n_test, 2, 2)`` threshold covariances."""
        self._ensure_computed()
        return self._samples

    @property
    def mean(self) -> jnp.ndarray:
        """Posterior mean: p(correct), shape ``(n_test,)``; or threshold covariances
        ``(n_test, 2, 2)`` averaged entrywise over draws."""
        self._ensure_computed()
        return self._mean

    @property
    def variance(self) -> jnp.ndarray:
        """Variance over the draws, entrywise (``jnp.var``), shaped as :attr:`mean`."""
        self._ensure_computed()
        return self._variance

    def rsample(self, sample_shape: tuple | int = (), *, key: jax.Array) -> jnp.ndarray:
        """Predictions at fresh posterior draws, shape ``(*sample_shape, *mean.shape)``.

        Parameters
        ----------
        sample_shape
            Shape of the batch of draws; ``()`` gives one draw.
        key
            Key of the posterior draws.
        """
        if isinstance(sample_shape, int) and not isinstance(sample_shape, bool):
            sample_shape = (sample_shape,)
        sample_shape = tuple(sample_shape)
        for n in sample_shape:
            check.positive_int("sample_shape entries", n)
        draws = self.param_posterior.sample(math.prod(sample_shape), key=key)
        out = self._predict(draws)
        return out.reshape(sample_shape + out.shape[1:])

    def cov_field(self, X: Any) -> jnp.ndarray:
        r"""Posterior mean noise covariance :math:`E[\Sigma(x)]` at stimuli ``X``.

        Parameters
        ----------
        X
            Shape ``(n_test, input_dim)`` or ``(n_test, k, input_dim)``.

        Returns
        -------
        jnp.ndarray
            Shape ``X.shape[:-1] + (input_dim, input_dim)``.
        """
        ndim = np.ndim(X)
        if ndim not in (2, 3):
            raise ValueError(
                f"X must have shape (n_test, {self.model.input_dim}) or (n_test, k, "
                f"{self.model.input_dim}), got shape {np.shape(X)}."
            )
        draws = self.param_posterior.sample(self.n_samples, key=self.key)
        return jnp.mean(jnp.asarray(covariance_field(self.model, draws, X)), axis=0)

    def __repr__(self) -> str:
        kind = "threshold covariances" if self.threshold_pred else "p(correct)"
        return (f"WPPMPredictivePosterior({kind}, n_samples={self.n_samples}, "
                f"n_test={np.shape(self.X)[0]})")
