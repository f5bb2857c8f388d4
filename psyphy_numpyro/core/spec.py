r"""The WPPM's specification: a frozen, hashable record and the maths over it.

:class:`WPPMSpec` holds what defines a model (input dimension, prior, task,
noise model, diagonal term) and nothing mutable, so it can be a static
argument of compiled code and the argument of :func:`~psyphy_numpyro.core.
numpyro_model.wppm_model`. Its methods are pure functions of the spec and
arrays:

- MVP: :math:`\Sigma = \operatorname{diag}(e^{\text{log\_diag}})` everywhere;
  the discriminability :math:`d = \sqrt{\delta^T(\Sigma + \epsilon I)^{-1}
  \delta}` of cmp - ref becomes p(correct) by the task's rule.
- Full WPPM: :math:`\Sigma(x) = U(x) U(x)^T + \epsilon I` with
  :math:`U(x) = \sum_{ij} W_{ij} \phi_{ij}(x)` over a Chebyshev basis, and
  p(correct) from the oddity rule chosen by the task's ``estimator``.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.covariance import (
    diagonal_covariance,
    mahalanobis,
    wishart_covariance,
    wishart_sqrt,
)
from psyphy_numpyro.core.lapse import LAPSE_SITE, LapsePrior, apply_lapse, lapse_logits
from psyphy_numpyro.core.noise import GaussianNoise, StudentTNoise
from psyphy_numpyro.core.numpyro_model import wppm_model
from psyphy_numpyro.core.oddity.gaussian_mc import gaussian_draws, gaussian_mc_p_correct
from psyphy_numpyro.core.oddity.psyphy_draws import oddity_p_correct
from psyphy_numpyro.core.oddity.quadrature import quadrature_p_correct, quadrature_rule
from psyphy_numpyro.core.prior import Prior
from psyphy_numpyro.core.tasks import OddityTask, TwoAFC
from psyphy_numpyro.core.trials import Trials, as_trials

__all__ = ["Params", "WPPMSpec", "as_spec", "check_task", "quadrature_misfit"]

Params = dict[str, jnp.ndarray]


def quadrature_misfit(prior: Prior, noise: Any, bandwidth: float) -> str | None:
    """Why the ``"quadrature"`` rule cannot compute this model's p(correct), or None.

    It needs input_dim 2 or 3, :class:`~psyphy_numpyro.core.noise.GaussianNoise`
    and a ``bandwidth`` of at most 0.1.
    """
    if prior.input_dim in (2, 3) and isinstance(noise, GaussianNoise) and bandwidth <= 0.1:
        return None
    return (f"it needs input_dim 2 or 3, GaussianNoise and bandwidth <= 0.1, got input_dim "
            f"{prior.input_dim}, {type(noise).__name__} and bandwidth {bandwidth}")


def check_task(task: Any, prior: Prior, noise: Any) -> Any:
    """Check that ``task`` suits a model with this prior and noise; return it."""
    allowed = (OddityTask, TwoAFC) if prior.is_mvp else (OddityTask,)
    if not isinstance(task, allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise TypeError(f"task must be {names}, got {type(task).__name__}.")
    if not prior.is_mvp and task.config.estimator == "quadrature":
        misfit = quadrature_misfit(prior, noise, task.config.bandwidth)
        if misfit is not None:
            raise ValueError(f'estimator="quadrature" does not apply: {misfit}; use '
                             'estimator="mc".')
    return task


def as_spec(model: Any) -> WPPMSpec:
    """The :class:`WPPMSpec` of a model: the spec itself, or a facade's ``spec``."""
    spec = getattr(model, "spec", model)
    if not isinstance(spec, WPPMSpec):
        raise TypeError(
            f"model must be a psyphy_numpyro.WPPM or WPPMSpec, got {type(model).__name__}."
        )
    return spec


@dataclass(frozen=True)
class WPPMSpec:
    """A WPPM's configuration, frozen and hashable (a static argument of ``jit``).

    Parameters
    ----------
    input_dim
        Dimension of the stimulus space.
    prior
        :class:`~psyphy_numpyro.core.prior.Prior`: the MVP's or the full WPPM's.
    task
        :class:`~psyphy_numpyro.core.tasks.OddityTask` or (MVP only)
        :class:`~psyphy_numpyro.core.tasks.TwoAFC`.
    noise
        :class:`~psyphy_numpyro.core.noise.GaussianNoise` or
        :class:`~psyphy_numpyro.core.noise.StudentTNoise`.
    diag_term
        The :math:`\\epsilon` added to the covariance diagonal.
    """

    input_dim: int
    prior: Prior
    task: Any
    noise: Any
    diag_term: float = 1e-6

    def __post_init__(self) -> None:
        check.positive_int("input_dim", self.input_dim)
        if not isinstance(self.prior, Prior):
            raise TypeError(
                f"prior must be a psyphy_numpyro.Prior, got {type(self.prior).__name__}."
            )
        if self.prior.input_dim != self.input_dim:
            raise ValueError(
                f"Dimension mismatch: input_dim={self.input_dim} but the prior has "
                f"input_dim={self.prior.input_dim}."
            )
        if not isinstance(self.noise, (GaussianNoise, StudentTNoise)):
            raise TypeError(
                "noise must be GaussianNoise or StudentTNoise, got "
                f"{type(self.noise).__name__}."
            )
        check_task(self.task, self.prior, self.noise)
        check.non_negative("diag_term", self.diag_term)

    # -- derived configuration ----------------------------------------------------
    @property
    def is_mvp(self) -> bool:
        """True for the MVP (``log_diag``) model, False for the full WPPM."""
        return self.prior.is_mvp

    @property
    def basis_degree(self) -> int | None:
        """Chebyshev degree of the weights (None for the MVP)."""
        return self.prior.basis_degree

    @property
    def extra_dims(self) -> int:
        """Embedding dimensions beyond ``input_dim``."""
        return self.prior.extra_embedding_dims

    @property
    def embedding_dim(self) -> int:
        """Columns of ``U(x)``: ``input_dim + extra_dims``."""
        return self.prior.embedding_dim

    @property
    def estimator(self) -> str | None:
        """How the full WPPM computes p(correct) (None for the MVP).

        The task's ``config.estimator``, where an unset one (None) means
        ``"mc"``, except that ``"mc"`` with Student-t noise runs on psyphy's
        draws (``"psyphy"``). The fitters that need a deterministic density
        use :meth:`fixed_density_spec` instead.
        """
        if self.is_mvp:
            return None
        estimator = self.task.config.estimator or "mc"
        if estimator == "mc" and not isinstance(self.noise, GaussianNoise):
            return "psyphy"
        return estimator

    def fixed_density_spec(self) -> WPPMSpec:
        """The spec whose density NUTS, MALA, Laplace and SVI use.

        With the estimator unset (None) and the ``"quadrature"`` rule
        applicable (:func:`quadrature_misfit`), this spec with
        ``estimator="quadrature"``: deterministic, smooth, and no draws to fix.
        Otherwise this spec itself (an estimator chosen explicitly is kept).
        """
        config = None if self.is_mvp else self.task.config
        if (config is None or config.estimator is not None
                or quadrature_misfit(self.prior, self.noise, config.bandwidth)):
            return self
        config = replace(config, estimator="quadrature")
        return replace(self, task=replace(self.task, config=config))

    @property
    def infers_lapse(self) -> bool:
        """True when the task's ``lapse`` is a :class:`LapsePrior` (site ``"lapse_rate"``)."""
        return isinstance(self.task.lapse, LapsePrior)

    @property
    def param_sites(self) -> tuple[str, ...]:
        """Keys of a params dict: the prior's site, then ``"lapse_rate"`` if inferred."""
        return (self.prior.site, LAPSE_SITE) if self.infers_lapse else (self.prior.site,)

    @property
    def needs_draws(self) -> bool:
        """True when p(correct) is a Monte Carlo average over random draws."""
        return self.estimator in ("mc", "psyphy")

    @property
    def numpyro_model(self) -> Callable[..., None]:
        """``wppm_model`` bound to this spec: ``fn(ref, probe, responses=None)``."""
        return partial(wppm_model, spec=self)

    # -- maths (jit/vmap/grad friendly) ---------------------------------------------
    def init_params(self, key: jax.Array) -> Params:
        """Draw initial parameters from the prior (an inferred lapse starts at its prior mean)."""
        params = self.prior.sample_params(key)
        if self.infers_lapse:
            params[LAPSE_SITE] = jnp.asarray(self.task.lapse.mean, jnp.float32)
        return params

    def check_params(self, params: Any, name: str = "params") -> Params:
        """Check a params dict (:attr:`param_sites`, shapes, values); return jnp arrays.

        An inferred lapse rate (``"lapse_rate"``) must be a scalar in (0, 1).
        """
        if not self.infers_lapse:
            return self.prior.check_params(params, name)
        if not isinstance(params, dict) or set(params) != set(self.param_sites):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(
                f"{name} must be a dict with the keys {list(self.param_sites)} (the "
                f"task infers its lapse rate), got {got}."
            )
        out = self.prior.check_params({self.prior.site: params[self.prior.site]}, name)
        rate = params[LAPSE_SITE]
        if not isinstance(rate, jax.core.Tracer):
            if np.shape(rate) != ():
                raise ValueError(f"{name}[{LAPSE_SITE!r}] must be a scalar, got shape "
                                 f"{np.shape(rate)}.")
            check.open_unit_interval(f"{name}[{LAPSE_SITE!r}]", float(rate))
        out[LAPSE_SITE] = jnp.asarray(rate, dtype=jnp.float32)
        return out

    def lapse_rate(self, params: Params) -> Any:
        """The lapse rate at ``params``: inferred, fixed, or None (no lapses)."""
        return params[LAPSE_SITE] if self.infers_lapse else self.task.lapse

    def with_lapse(self, params: Params, p: jnp.ndarray) -> jnp.ndarray:
        """The answers' p(correct) from the model's ``p`` (:func:`apply_lapse`)."""
        rate = self.lapse_rate(params)
        return p if rate is None else apply_lapse(p, rate, self.task.chance)

    def draw_mc_samples(
        self, key: jax.Array, num_trials: int | None, num_samples: int | None = None
    ) -> Any:
        """Monte Carlo draws for the oddity rule, one set per trial (shared if None).

        :class:`~psyphy_numpyro.core.oddity.gaussian_mc.GaussianDraws` for
        ``"mc"``, psyphy's draw array for ``"psyphy"``, and None for the MVP
        and ``"quadrature"``. ``num_samples`` defaults to the task's.
        """
        if not self.needs_draws:
            return None
        if num_samples is None:
            num_samples = self.task.config.num_samples
        if self.estimator == "mc":
            return gaussian_draws(key, num_trials, num_samples, self.input_dim)
        return self.noise.draws(key, num_trials, num_samples, self.embedding_dim,
                                self.input_dim)

    def local_covariance(self, params: Params, x: Any = None) -> jnp.ndarray:
        """Covariance :math:`\\Sigma(x)`; ``x`` may be a batch ``(..., input_dim)``.

        The MVP's covariance does not depend on ``x``. For the full WPPM,
        ``x`` must lie in the Chebyshev domain [-1, 1].
        """
        if self.is_mvp:
            return diagonal_covariance(params["log_diag"])
        x = self.in_domain("x", x)
        return wishart_covariance(params["W"], x, self.basis_degree, self.diag_term)

    def discriminability_batch(self, params: Params, ref, probe) -> jnp.ndarray:
        """MVP: discriminability ``d`` of each trial, shape ``(N,)``."""
        cov = self.local_covariance(params)
        return mahalanobis(cov, jnp.asarray(probe) - jnp.asarray(ref), self.diag_term)

    def p_correct(self, params: Params, ref, probe, mc_samples=None) -> jnp.ndarray:
        """Full WPPM: p(correct) of each trial, clipped to the task's ``config.clip``.

        The model's own p(correct), without the task's lapses (the readouts'
        p); :meth:`trial_logits` and :meth:`with_lapse` add them.

        ``mc_samples`` come from :meth:`draw_mc_samples` (None for ``"quadrature"``).
        """
        if self.is_mvp:
            raise ValueError("p_correct is the full WPPM's rule; for the MVP, p(correct) is "
                             "jax.nn.sigmoid(model.trial_logits(params, ref, probe)).")
        W, deg = params["W"], self.basis_degree
        U_ref, U_probe = wishart_sqrt(W, ref, deg), wishart_sqrt(W, probe, deg)
        return self.p_correct_factors(U_ref, U_probe, ref, probe, mc_samples)

    def p_correct_factors(self, U_ref, U_probe, ref, probe, mc_samples=None) -> jnp.ndarray:
        """Full WPPM: p(correct) from the square roots :math:`U` at each trial's stimuli.

        :meth:`p_correct` with ``U_ref = wishart_sqrt(W, ref)`` (likewise
        ``U_probe``); each trial's value depends on its own rows only.
        """
        cfg = self.task.config
        settings = {"diag_term": self.diag_term, "bandwidth": cfg.bandwidth,
                    "clip": cfg.clip}
        if self.estimator == "quadrature":
            rule = quadrature_rule(*cfg.quadrature, input_dim=self.input_dim)
            return quadrature_p_correct(U_ref, U_probe, ref, probe, rule, **settings)
        if mc_samples is None:
            raise ValueError(
                f'the {self.estimator!r} estimator needs Monte Carlo draws: pass '
                "mc_samples=model.draw_mc_samples(key, num_trials)."
            )
        if self.estimator == "mc":
            return gaussian_mc_p_correct(U_ref, U_probe, ref, probe, mc_samples, **settings)
        return oddity_p_correct(U_ref, U_probe, ref, probe, mc_samples, **settings)

    def trial_logits(self, params: Params, ref, probe, mc_samples=None) -> jnp.ndarray:
        """Log-odds of a correct answer for each trial, lapses included."""
        rate = self.lapse_rate(params)
        if self.is_mvp:
            logits = self.task.logits(self.discriminability_batch(params, ref, probe))
            return logits if rate is None else lapse_logits(logits, rate, self.task.chance)
        return self.answer_logits(params, self.p_correct(params, ref, probe, mc_samples))

    def answer_logits(self, params: Params, p: jnp.ndarray) -> jnp.ndarray:
        """Full WPPM: the answers' log-odds from the model's ``p``, lapses included."""
        q = self.with_lapse(params, p)
        return jnp.log(q) - jnp.log1p(-q)

    @partial(jax.jit, static_argnums=0)
    def log_likelihood(self, params: Params, trials: Trials,
                       mc_samples=None) -> jnp.ndarray:
        """Bernoulli log-likelihood of each trial, shape ``(N,)`` (compiled per spec)."""
        logits = self.trial_logits(params, trials.ref, trials.probe, mc_samples)
        return dist.Bernoulli(logits=logits).log_prob(trials.responses)

    # -- checks ---------------------------------------------------------------------
    def trials(self, data: Any) -> Trials:
        """Validate ``data`` against this model and return :class:`Trials`."""
        trials = as_trials(data, self.input_dim)
        self.check_stimuli(trials.ref, trials.probe)
        return trials

    def check_stimuli(self, ref: Any, probe: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``(N, input_dim)`` stimuli: finite, matching shapes.

        For the full WPPM, stimuli outside the Chebyshev domain [-1, 1] give a
        ``UserWarning`` and are used as they are (psyphy fits and evaluates
        them too); single-point evaluation (:meth:`local_covariance`) raises.
        """
        ref, probe = check.stimuli_pair(ref, probe, self.input_dim)
        if not self.is_mvp:
            outside = {name: np.any(np.abs(arr) > 1.0, axis=-1)
                       for name, arr in (("ref", ref), ("probe", probe))}
            names = [name for name, rows in outside.items() if rows.any()]
            if names:
                both = np.concatenate([ref, probe])
                check.warn(
                    f"stimuli in {' and '.join(names)} lie outside the Chebyshev "
                    "domain [-1, 1] of the full WPPM in "
                    f"{int((outside['ref'] | outside['probe']).sum())} of "
                    f"{ref.shape[0]} trials (values from {both.min():.4g} to "
                    f"{both.max():.4g}). The Chebyshev basis is extrapolated "
                    "there, where its polynomials grow without bound, so the "
                    "covariance field is not what the prior describes; rescale the "
                    "stimulus space into [-1, 1]."
                )
        return ref, probe

    def in_domain(self, name: str, x: Any) -> jnp.ndarray:
        """``x`` as an array; raise unless finite, ``(..., input_dim)``, in [-1, 1]."""
        if isinstance(x, jax.core.Tracer):
            return x
        arr = check.finite_array(name, x)
        if arr.shape[-1:] != (self.input_dim,):
            raise ValueError(
                f"{name} must have shape (..., {self.input_dim}), got {arr.shape}."
            )
        if np.any(np.abs(arr) > 1.0):
            raise ValueError(
                f"{name} must lie in the Chebyshev domain [-1, 1] of the full WPPM; "
                f"found values from {arr.min():.4g} to {arr.max():.4g}. Rescale the "
                "stimulus space first."
            )
        return jnp.asarray(x)
