r"""The WPPM as a NumPyro program, and psyphy's ``WPPM`` facade over it.

:func:`wppm_model` is a plain NumPyro model: a Gaussian prior on the
parameters (site ``log_diag`` for the MVP, ``W`` for the full WPPM) and a
Bernoulli likelihood over a plate named ``trial`` (site ``y``). Any NumPyro
inference runs on it: ``Predictive``, ``SVI`` with any guide, ``MCMC``.

- MVP: :math:`\Sigma = \operatorname{diag}(e^{\text{log\_diag}})` everywhere;
  the discriminability :math:`d = \sqrt{\delta^T(\Sigma + \epsilon I)^{-1}
  \delta}` of probe - ref is mapped to p(correct) by the task's ``tanh`` rule.
- Full WPPM: :math:`\Sigma(x) = U(x) U(x)^T + \epsilon I` with
  :math:`U(x) = \sum_{ij} W_{ij} \phi_{ij}(x)` over a Chebyshev basis, and
  p(correct) from the Monte Carlo oddity rule. Its standard draws come from
  the ``noise`` argument when given (fixed draws: a deterministic density, as
  NUTS needs) and otherwise from ``numpyro.prng_key()`` (fresh draws each
  SVI step).

References
----------
Hong, F. et al. (2025). Comprehensive characterization of human color
discrimination thresholds. eLife RP108943.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from . import _validation as check
from .basis import basis_functions
from .covariance import (
    diagonal_covariance,
    mahalanobis,
    wishart_covariance,
    wishart_sqrt,
)
from .data import Trials, as_trials
from .noise import GaussianNoise, StudentTNoise
from .oddity import PROB_CLIP, oddity_p_correct
from .oddity_gaussian import gaussian_draws, gaussian_mc_p_correct
from .oddity_quadrature import quadrature_p_correct, quadrature_rule
from .priors import Prior
from .tasks import OddityTask, OddityTaskConfig, TwoAFC

__all__ = ["WPPM", "observe_trials", "wppm_model"]

Params = dict[str, jnp.ndarray]


def wppm_model(ref, probe, responses=None, *, wppm: WPPM, noise=None) -> None:
    """NumPyro model of a discrimination experiment.

    Parameters
    ----------
    ref, probe
        Reference and comparison stimuli, shape ``(N, input_dim)``.
    responses
        Observed answers (1 correct, 0 wrong), shape ``(N,)``; ``None`` to
        simulate them.
    wppm
        The model configuration (prior, task, noise, ``diag_term``).
    noise
        Full WPPM only: fixed standard draws (:meth:`WPPM.draw_noise`); when
        None they are drawn from ``numpyro.prng_key()``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from numpyro.infer import Predictive
    >>> wppm = WPPM(input_dim=2, prior=Prior.default(2), task=OddityTask())
    >>> ref = jnp.zeros((5, 2)); probe = ref + 0.1
    >>> draws = Predictive(wppm.numpyro_model, num_samples=3)(
    ...     jax.random.PRNGKey(0), ref, probe)
    >>> draws["log_diag"].shape, draws["y"].shape
    ((3, 2), (3, 5))
    """
    prior = wppm.prior
    value = numpyro.sample(
        prior.site, prior.distribution(), infer={"event_dims": prior.event_dims}
    )
    observe_trials(wppm, {prior.site: value}, ref, probe, responses, noise)


def observe_trials(wppm: WPPM, params: Params, ref, probe, responses=None,
                   noise=None) -> None:
    """The likelihood part of :func:`wppm_model`: site ``y`` over plate ``trial``.

    Shared by every NumPyro model of the WPPM (see
    :func:`psyphy_numpyro.gauge.gauge_fixed_model`).
    """
    if wppm.needs_draws and noise is None:
        key = numpyro.prng_key()
        if key is None:
            raise ValueError(
                "the full WPPM needs Monte Carlo draws: run it under a seed "
                "(SVI, Predictive) or pass noise=model.draw_noise(key, N) (NUTS)."
            )
        noise = wppm.draw_noise(key, ref.shape[0])
    logits = wppm.trial_logits(params, ref, probe, noise=noise)
    with numpyro.plate("trial", ref.shape[0]):
        numpyro.sample("y", dist.Bernoulli(logits=logits), obs=responses)


def _fixed(name: str) -> None:
    raise AttributeError(
        f"WPPM.{name} is fixed once the model is built (compiled code is cached "
        f"per model); build a new WPPM with the {name} you want."
    )


def _checked_task(task: Any, prior: Prior, noise: Any) -> Any:
    """Check that ``task`` suits a model with this prior and noise; return it."""
    allowed = (OddityTask, TwoAFC) if prior.is_mvp else (OddityTask,)
    if not isinstance(task, allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise TypeError(f"task must be {names}, got {type(task).__name__}.")
    if not prior.is_mvp and task.config.estimator == "quadrature":
        bandwidth = task.config.bandwidth
        gaussian = isinstance(noise, GaussianNoise)
        if prior.input_dim != 2 or not gaussian or bandwidth > 0.1:
            raise ValueError(
                'estimator="quadrature" needs input_dim 2, GaussianNoise and '
                f"bandwidth <= 0.1, got input_dim {prior.input_dim}, "
                f'{type(noise).__name__} and bandwidth {bandwidth}; use estimator="mc".'
            )
    return task


class WPPM:
    r"""Wishart Process Psychophysical Model.

    The parameterisation follows the prior: ``Prior.default(d, scale)`` gives
    the MVP (constant diagonal covariance, closed-form task), and
    ``Prior(d, basis_degree, ...)`` the full Wishart-process model with the
    Monte Carlo oddity rule. Accepts psyphy's seed-era call ``WPPM(input_dim,
    prior, task, noise)`` and 0.0.5's ``WPPM(prior, likelihood, noise, *,
    input_dim, extra_dims, variance_scale, decay_rate, diag_term)``.

    Parameters
    ----------
    prior
        :class:`~psyphy_numpyro.Prior`; defaults to ``Prior.default(input_dim)``.
    likelihood
        The task: :class:`~psyphy_numpyro.OddityTask` (default) or, for the
        MVP, :class:`~psyphy_numpyro.TwoAFC`. ``task=`` is an alias.
    noise
        :class:`~psyphy_numpyro.GaussianNoise` (default) or
        :class:`~psyphy_numpyro.StudentTNoise`.
    input_dim
        Dimension of the stimulus space (the prior's by default).
    extra_dims
        Full WPPM: must equal the prior's ``extra_embedding_dims``.
    variance_scale, decay_rate
        Accepted for psyphy 0.0.5; the prior's values are used, as in psyphy.
    diag_term
        The :math:`\epsilon` added to the covariance diagonal.
    **model_kwargs
        psyphy 0.0.5's reserved keywords; none is accepted, and the task's
        settings (``num_samples``, ``bandwidth``, ...) name the task config.

    Notes
    -----
    The configuration is fixed once built, apart from the task: assigning
    ``model.likelihood`` (or ``model.task``) checks the new task, and compiled
    code, cached per configuration (models compare equal when their
    configurations do), is rebuilt for it. ``prior``, ``noise``, ``diag_term``
    and ``input_dim`` cannot be reassigned: build a new ``WPPM``.

    Full WPPM stimuli should lie in the Chebyshev domain [-1, 1]. Data outside
    it (fits, likelihoods, simulation) gives a ``UserWarning`` and is used as
    it is, as in psyphy; evaluating one point outside it
    (:meth:`local_covariance`, ``task.predict``) raises ``ValueError``.
    """

    def __init__(
        self,
        prior: Any = None,
        likelihood: Any = None,
        noise: Any = None,
        *more: Any,
        input_dim: int | None = None,
        task: Any = None,
        extra_dims: int | None = None,
        variance_scale: float | None = None,
        decay_rate: float | None = None,
        diag_term: float = 1e-6,
        **model_kwargs: Any,
    ) -> None:
        if model_kwargs:
            task_fields = OddityTaskConfig.__dataclass_fields__
            misplaced = sorted(set(model_kwargs) & set(task_fields))
            if misplaced:
                raise TypeError(
                    "Do not pass task-specific kwargs via WPPM(..., **model_kwargs): "
                    f"{misplaced} belong to the task, e.g. WPPM(prior, OddityTask("
                    f"config=OddityTaskConfig({misplaced[0]}=...)))."
                )
            raise TypeError(
                f"WPPM got unexpected keyword argument(s) {sorted(model_kwargs)}."
            )
        if isinstance(prior, int) and not isinstance(prior, bool):
            # the seed's order: WPPM(input_dim, prior, task, noise)
            if input_dim is not None or len(more) > 1:
                raise TypeError("WPPM(input_dim, prior, task, noise): bad arguments.")
            fourth = more[0] if more else None
            input_dim, prior, likelihood, noise = prior, likelihood, noise, fourth
        elif more:
            raise TypeError(
                f"WPPM takes at most 3 positional arguments, got {3 + len(more)}."
            )
        if task is not None and likelihood is not None:
            raise TypeError("Pass the task as task= or likelihood=, not both.")
        task = task if task is not None else likelihood
        if prior is None:
            prior = Prior.default(input_dim if input_dim is not None else 2)
        if not isinstance(prior, Prior):
            raise TypeError(
                f"prior must be a psyphy_numpyro.Prior, got {type(prior).__name__}."
            )
        if input_dim is None:
            input_dim = prior.input_dim
        check.positive_int("input_dim", input_dim)
        if prior.input_dim != input_dim:
            raise ValueError(
                f"Dimension mismatch: input_dim={input_dim} but the prior has "
                f"input_dim={prior.input_dim}."
            )
        noise = GaussianNoise() if noise is None else noise
        if not isinstance(noise, (GaussianNoise, StudentTNoise)):
            raise TypeError(
                f"noise must be GaussianNoise or StudentTNoise, got {type(noise).__name__}."
            )
        if (extra_dims is not None and not prior.is_mvp
                and extra_dims != prior.extra_embedding_dims):
            raise ValueError(
                f"extra_dims={extra_dims} but the prior has "
                f"extra_embedding_dims={prior.extra_embedding_dims}."
            )
        for name, value in (("variance_scale", variance_scale), ("decay_rate", decay_rate)):
            if value is not None and not prior.is_mvp and value != getattr(prior, name):
                warnings.warn(
                    f"WPPM({name}={value}) differs from the prior's "
                    f"{getattr(prior, name)}; the prior's value is used (as in psyphy).",
                    UserWarning,
                    stacklevel=2,
                )
        self._input_dim = int(input_dim)
        self._prior = prior
        self._noise = noise
        task = OddityTask() if task is None else task
        self._task = _checked_task(task, prior, noise)
        self._diag_term = check.non_negative("diag_term", diag_term)

    # -- configuration: fixed, except the task -----------------------------------
    # Compiled code is cached with the model as a static argument, so the model
    # compares and hashes by its configuration: a new task gives a new key.
    def _config(self) -> tuple:
        return (self._input_dim, self._prior, self._task, self._noise,
                self._diag_term)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WPPM):
            return NotImplemented
        return type(self) is type(other) and self._config() == other._config()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._config())

    @property
    def input_dim(self) -> int:
        """Dimension of the stimulus space (fixed once the model is built)."""
        return self._input_dim

    @input_dim.setter
    def input_dim(self, value: Any) -> None:
        _fixed("input_dim")

    @property
    def prior(self) -> Prior:
        """The :class:`~psyphy_numpyro.Prior` (fixed once the model is built)."""
        return self._prior

    @prior.setter
    def prior(self, value: Any) -> None:
        _fixed("prior")

    @property
    def noise(self) -> Any:
        """The noise model (fixed once the model is built)."""
        return self._noise

    @noise.setter
    def noise(self, value: Any) -> None:
        _fixed("noise")

    @property
    def diag_term(self) -> float:
        r"""The :math:`\epsilon` added to the covariance diagonal (fixed)."""
        return self._diag_term

    @diag_term.setter
    def diag_term(self, value: Any) -> None:
        _fixed("diag_term")

    @property
    def task(self) -> Any:
        """The task; psyphy 0.0.5 calls it ``likelihood``.

        Assigning a new task (``model.likelihood = OddityTask(...)``, as psyphy
        scripts do) checks it as the constructor does; compiled code is keyed
        by the model's configuration, so the next call compiles for the new
        task.
        """
        return self._task

    @task.setter
    def task(self, value: Any) -> None:
        self._task = _checked_task(value, self._prior, self._noise)

    likelihood = task

    def __repr__(self) -> str:
        return (
            f"WPPM(input_dim={self.input_dim}, prior={self.prior!r}, "
            f"task={self.task!r}, noise={self.noise!r}, diag_term={self.diag_term})"
        )

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

        The task's ``config.estimator``, except that ``"mc"`` with Student-t
        noise runs on psyphy's draws (``"psyphy"``).
        """
        if self.is_mvp:
            return None
        estimator = self.task.config.estimator
        if estimator == "mc" and not isinstance(self.noise, GaussianNoise):
            return "psyphy"
        return estimator

    @property
    def needs_draws(self) -> bool:
        """True when p(correct) is a Monte Carlo average over random draws."""
        return self.estimator in ("mc", "psyphy")

    @property
    def numpyro_model(self) -> Callable[..., None]:
        """:func:`wppm_model` bound to this configuration: ``fn(ref, probe, responses=None)``."""
        return partial(wppm_model, wppm=self)

    # -- pure maths (jit/vmap/grad friendly) ----------------------------------
    def init_params(self, key: jax.Array) -> Params:
        """Draw initial parameters from the prior."""
        return self.prior.sample_params(key)

    def draw_noise(
        self, key: jax.Array, num_trials: int | None, num_samples: int | None = None
    ) -> Any:
        """Draws for the Monte Carlo rule, one set per trial (or shared if None).

        Returns :class:`~psyphy_numpyro.oddity_gaussian.GaussianDraws` for the
        ``"mc"`` estimator (each trial's draws exact; trials ``t`` and ``t +
        256`` share a point set, turned differently), psyphy's draw array for
        ``"psyphy"``, and None for the MVP and the deterministic
        ``"quadrature"`` rule. ``num_samples``
        defaults to the task's.
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
        x = self._in_domain("x", x)
        return wishart_covariance(params["W"], x, self.basis_degree, self.diag_term)

    def discriminability_batch(self, params: Params, ref, probe) -> jnp.ndarray:
        """MVP: discriminability ``d`` of each trial, shape ``(N,)``."""
        cov = self.local_covariance(params)
        return mahalanobis(cov, jnp.asarray(probe) - jnp.asarray(ref), self.diag_term)

    def p_correct(self, params: Params, ref, probe, noise=None) -> jnp.ndarray:
        """Full WPPM: p(correct) of each trial, clipped as psyphy does.

        ``noise`` comes from :meth:`draw_noise` (None for ``"quadrature"``).
        """
        W, deg, cfg = params["W"], self.basis_degree, self.task.config
        U_ref, U_cmp = wishart_sqrt(W, ref, deg), wishart_sqrt(W, probe, deg)
        settings = dict(diag_term=self.diag_term, bandwidth=cfg.bandwidth, clip=PROB_CLIP)
        if self.estimator == "quadrature":
            rule = quadrature_rule(*cfg.quadrature)
            return quadrature_p_correct(U_ref, U_cmp, ref, probe, rule, **settings)
        if noise is None:
            raise ValueError(
                f'the {self.estimator!r} estimator needs Monte Carlo draws: pass '
                "noise=model.draw_noise(key, num_trials)."
            )
        if self.estimator == "mc":
            return gaussian_mc_p_correct(U_ref, U_cmp, ref, probe, noise, **settings)
        return oddity_p_correct(U_ref, U_cmp, ref, probe, noise, **settings)

    def trial_logits(self, params: Params, ref, probe, noise=None) -> jnp.ndarray:
        """Log-odds of a correct answer for each trial."""
        if self.is_mvp:
            return self.task.logits(self.discriminability_batch(params, ref, probe))
        p = self.p_correct(params, ref, probe, noise)
        return jnp.log(p) - jnp.log1p(-p)

    @partial(jax.jit, static_argnums=0)
    def log_likelihood(self, params: Params, trials: Trials, noise=None) -> jnp.ndarray:
        """Bernoulli log-likelihood of each trial, shape ``(N,)`` (compiled).

        The model is a static argument, hashed by its configuration, so
        assigning a new task compiles anew.
        """
        logits = self.trial_logits(params, trials.ref, trials.probe, noise)
        return dist.Bernoulli(logits=logits).log_prob(trials.responses)

    # -- psyphy's API ---------------------------------------------------------
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

    def discriminability(self, params: Params, stimulus) -> jnp.ndarray:
        """MVP: discriminability of one ``(ref, probe)`` pair."""
        ref, probe = stimulus
        return self.discriminability_batch(params, jnp.atleast_2d(ref), jnp.atleast_2d(probe))[0]

    def predict_prob(self, params: Params, stimulus, *, key: jax.Array | None = None):
        """p(correct) for one ``(ref, probe)`` pair.

        For the full WPPM, ``key`` seeds the Monte Carlo draws (default:
        ``task.config.default_key_seed``, as in psyphy).
        """
        ref, probe = (jnp.atleast_2d(jnp.asarray(s)) for s in stimulus)
        if self.is_mvp:
            return jax.nn.sigmoid(self.trial_logits(params, ref, probe))[0]
        if key is None:
            key = jax.random.PRNGKey(self.task.config.default_key_seed)
        noise = self.draw_noise(key, None)
        return self.p_correct(params, ref, probe, noise)[0]

    def log_likelihood_from_data(
        self, params: Params, data: Any, *, key: jax.Array | None = None
    ) -> jnp.ndarray:
        """Total log-likelihood of ``data`` (a scalar).

        For the full WPPM, ``key`` seeds independent per-trial Monte Carlo
        draws (default ``PRNGKey(0)``, as psyphy falls back to).
        """
        trials = data if isinstance(data, Trials) else self.trials(data)
        key = jax.random.PRNGKey(0) if key is None else key
        noise = self.draw_noise(key, trials.ref.shape[0])
        return jnp.sum(self.log_likelihood(params, trials, noise))

    def log_posterior_from_data(
        self, params: Params, data: Any, *, key: jax.Array | None = None
    ) -> jnp.ndarray:
        """Log-likelihood plus :meth:`Prior.log_prob` (psyphy's unnormalised value)."""
        return self.log_likelihood_from_data(params, data, key=key) + self.prior.log_prob(
            params
        )

    def _in_domain(self, name: str, x: Any) -> jnp.ndarray:
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

    # -- psyphy 0.0.5's private methods, for scripts and tests that call them -----
    def _validate_basis_input(self, x: Any) -> None:
        """Check one point ``x``, shape ``(input_dim,)`` (for psyphy's API).

        Raises ``ValueError`` for another shape, NaN/inf, or a point outside the
        Chebyshev domain [-1, 1]; traced values are only shape-checked.
        """
        shape = tuple(np.shape(x))
        if shape != (self.input_dim,):
            raise ValueError(
                f"Expected x with shape ({self.input_dim},), got {shape}: pass one "
                "stimulus point."
            )
        self._in_domain("x", x)

    def _evaluate_basis_at_point(self, x: Any) -> jnp.ndarray:
        """Basis at one point, shape ``(deg + 1,) * input_dim`` (for psyphy's API)."""
        if self.is_mvp:
            raise ValueError(
                "Cannot evaluate basis: basis_degree is None (the MVP model has no "
                "basis); build the model with Prior(input_dim, basis_degree=...)."
            )
        self._validate_basis_input(x)
        return basis_functions(jnp.asarray(x), self.basis_degree)

    def _compute_sqrt(self, params: Params, x: Any) -> jnp.ndarray:
        """``U(x)`` at one point, ``(input_dim, embedding_dim)`` (for psyphy's API)."""
        if self.is_mvp or "W" not in params:
            raise ValueError(
                "Cannot compute U(x): params missing 'W' (only the full WPPM, "
                "Prior(input_dim, basis_degree=...), has a square root U(x))."
            )
        self._validate_basis_input(x)
        return wishart_sqrt(params["W"], jnp.asarray(x), self.basis_degree)
