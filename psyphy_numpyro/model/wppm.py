r"""psyphy's ``WPPM`` class over the core's :class:`~psyphy_numpyro.core.spec.WPPMSpec`.

``WPPM`` accepts psyphy's constructors (the seed era's and 0.0.5's), keeps
psyphy's attribute names (``likelihood`` for the task) and private helpers,
and lets a script assign a new task. Everything else, the maths included,
lives in the frozen spec it holds (``model.spec``), which is what the NumPyro
model and the compiled code take.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.basis import basis_functions
from psyphy_numpyro.core.basis import chebyshev_basis as chebyshev_basis  # as psyphy
from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.core.keys import default_draw_key, default_mc_key
from psyphy_numpyro.core.noise import GaussianNoise
from psyphy_numpyro.core.prior import Prior
from psyphy_numpyro.core.spec import Params, WPPMSpec
from psyphy_numpyro.core.tasks import OddityTask, OddityTaskConfig
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.model.base import Model
from psyphy_numpyro.model.likelihood import (  # psyphy's module has them
    BernoulliTaskLikelihood as BernoulliTaskLikelihood,
)
from psyphy_numpyro.model.likelihood import (
    TaskLikelihood as TaskLikelihood,
)

__all__ = ["WPPM", "Params", "Stimulus"]

Stimulus = tuple[jnp.ndarray, jnp.ndarray]
"""One ``(ref, comparison)`` pair (psyphy's type alias)."""


def _from_spec(name: str) -> Any:
    """A property or method of ``WPPM`` that reads or calls ``self.spec``'s."""
    attr = getattr(WPPMSpec, name)
    if isinstance(attr, property):
        return property(lambda self: getattr(self._spec, name), doc=attr.__doc__)

    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._spec, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = attr.__doc__
    return method


def _fixed_property(name: str, doc: str) -> property:
    """A read-only view of the spec's ``name``; assigning it says why it is fixed."""

    def refuse(self: Any, value: Any) -> None:
        raise AttributeError(
            f"WPPM.{name} is fixed once the model is built (compiled code is cached "
            f"per model); build a new WPPM with the {name} you want."
        )

    return property(lambda self: getattr(self._spec, name), refuse, doc=doc)


class WPPM(Model):
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
        noise = GaussianNoise() if noise is None else noise
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
        task = OddityTask() if task is None else task
        self._spec = WPPMSpec(input_dim, prior, task, noise, diag_term)

    # -- configuration: fixed, except the task -----------------------------------
    # Compiled code is cached with the model as a static argument, so the model
    # compares and hashes by its spec: a new task gives a new key.
    @property
    def spec(self) -> WPPMSpec:
        """The frozen :class:`~psyphy_numpyro.core.spec.WPPMSpec` (the core's model)."""
        return self._spec

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WPPM):
            return NotImplemented
        return type(self) is type(other) and self._spec == other._spec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._spec))

    input_dim = _fixed_property(
        "input_dim", "Dimension of the stimulus space (fixed once the model is built).")
    prior = _fixed_property(
        "prior", "The :class:`~psyphy_numpyro.Prior` (fixed once the model is built).")
    noise = _fixed_property("noise", "The noise model (fixed once the model is built).")
    diag_term = _fixed_property(
        "diag_term", r"The :math:`\epsilon` added to the covariance diagonal (fixed).")

    @property
    def task(self) -> Any:
        """The task; psyphy 0.0.5 calls it ``likelihood``.

        Assigning a new task (``model.likelihood = OddityTask(...)``, as psyphy
        scripts do) checks it as the constructor does; compiled code is keyed
        by the model's configuration, so the next call compiles for the new
        task.
        """
        return self._spec.task

    @task.setter
    def task(self, value: Any) -> None:
        self._spec = dataclasses.replace(self._spec, task=value)

    likelihood = task

    def __repr__(self) -> str:
        return (
            f"WPPM(input_dim={self.input_dim}, prior={self.prior!r}, "
            f"task={self.task!r}, noise={self.noise!r}, diag_term={self.diag_term})"
        )

    # -- the spec's configuration and maths, under psyphy's names -------------------
    is_mvp = _from_spec("is_mvp")
    basis_degree = _from_spec("basis_degree")
    extra_dims = _from_spec("extra_dims")
    embedding_dim = _from_spec("embedding_dim")
    estimator = _from_spec("estimator")
    needs_draws = _from_spec("needs_draws")
    infers_lapse = _from_spec("infers_lapse")
    param_sites = _from_spec("param_sites")
    check_params = _from_spec("check_params")
    lapse_rate = _from_spec("lapse_rate")
    with_lapse = _from_spec("with_lapse")
    numpyro_model = _from_spec("numpyro_model")
    init_params = _from_spec("init_params")
    draw_mc_samples = _from_spec("draw_mc_samples")
    local_covariance = _from_spec("local_covariance")
    discriminability_batch = _from_spec("discriminability_batch")
    p_correct = _from_spec("p_correct")
    trial_logits = _from_spec("trial_logits")
    log_likelihood = _from_spec("log_likelihood")
    trials = _from_spec("trials")
    check_stimuli = _from_spec("check_stimuli")

    # -- psyphy's API ---------------------------------------------------------------
    def _one_pair(self, params: Params, stimulus: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Check ``params`` and one ``(ref, probe)`` pair; return both as ``(1, d)``.

        The full WPPM's points must lie in the Chebyshev domain, as
        ``task.predict`` requires; traced values are only shape-checked.
        """
        self.check_params(params)
        if not isinstance(stimulus, (tuple, list)) or len(stimulus) != 2:
            raise TypeError("stimulus must be a (ref, probe) pair of points.")
        pair = []
        for name, x in zip(("ref", "probe"), stimulus):
            if np.shape(x) not in ((self.input_dim,), (1, self.input_dim)):
                raise ValueError(f"stimulus {name} must have shape ({self.input_dim},), "
                                 f"got {np.shape(x)}.")
            if self.is_mvp and not isinstance(x, jax.core.Tracer):
                x = check.finite_array(f"stimulus {name}", x)
            elif not self.is_mvp:
                x = self._spec.in_domain(f"stimulus {name}", x)
            pair.append(jnp.atleast_2d(jnp.asarray(x)))
        return pair[0], pair[1]

    def discriminability(self, params: Params, stimulus) -> jnp.ndarray:
        """MVP: discriminability of one ``(ref, probe)`` pair."""
        ref, probe = self._one_pair(params, stimulus)
        return self.discriminability_batch(params, ref, probe)[0]

    def predict_prob(self, params: Params, stimulus, *, key: jax.Array | None = None):
        """p(correct) for one ``(ref, probe)`` pair, the task's lapses included.

        For the full WPPM, ``key`` seeds the Monte Carlo draws (default:
        ``task.config.default_key_seed``, as in psyphy), and the pair must lie
        in the Chebyshev domain [-1, 1] (as ``task.predict`` requires).
        """
        ref, probe = self._one_pair(params, stimulus)
        if self.is_mvp:
            return jax.nn.sigmoid(self.trial_logits(params, ref, probe))[0]
        mc_samples = self.draw_mc_samples(default_mc_key(self, key), None)
        return self.with_lapse(params, self.p_correct(params, ref, probe, mc_samples))[0]

    def log_likelihood_from_data(
        self, params: Params, data: Any, *, key: jax.Array | None = None
    ) -> jnp.ndarray:
        """Total log-likelihood of ``data`` (a scalar).

        For the full WPPM, ``key`` seeds independent per-trial Monte Carlo
        draws (default ``PRNGKey(0)``, as psyphy falls back to).
        """
        self.check_params(params)
        trials = data if isinstance(data, Trials) else self.trials(data)
        mc_samples = self.draw_mc_samples(default_draw_key(key), trials.ref.shape[0])
        return jnp.sum(self.log_likelihood(params, trials, mc_samples))

    def log_posterior_from_data(
        self, params: Params, data: Any, *, key: jax.Array | None = None
    ) -> jnp.ndarray:
        """Log-likelihood plus :meth:`Prior.log_prob` (psyphy's unnormalised value).

        An inferred lapse rate adds its Beta prior's log density.
        """
        value = self.log_likelihood_from_data(params, data, key=key) + self.prior.log_prob(
            params
        )
        if self.infers_lapse:
            value = value + self.task.lapse.distribution().log_prob(self.lapse_rate(params))
        return value

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
        self._spec.in_domain("x", x)

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
