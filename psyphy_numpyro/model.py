r"""The WPPM as a NumPyro program, and psyphy's ``WPPM`` facade over it.

:func:`wppm_model` is a plain NumPyro model: a Gaussian prior on the
parameters (site ``log_diag`` for the MVP) and a Bernoulli likelihood over a
plate named ``trial`` (site ``y``). Any NumPyro inference runs on it:
``Predictive``, ``SVI`` with any guide, ``MCMC``.

For the MVP, the covariance is constant, :math:`\Sigma = \operatorname{diag}
(e^{\text{log\_diag}})`, the discriminability of a trial is
:math:`d = \sqrt{\delta^T(\Sigma + \epsilon I)^{-1}\delta}` with
:math:`\delta` = probe - ref, and the task maps :math:`d` to p(correct).

References
----------
Hong, F. et al. (2025). Comprehensive characterization of human color
discrimination thresholds. eLife RP108943.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from . import _validation as check
from .covariance import diagonal_covariance, mahalanobis
from .data import Trials, as_trials
from .noise import GaussianNoise
from .priors import Prior
from .tasks import OddityTask, TwoAFC

__all__ = ["WPPM", "wppm_model"]

Params = dict[str, jnp.ndarray]


def wppm_model(ref, probe, responses=None, *, wppm: "WPPM") -> None:
    """NumPyro model of a discrimination experiment.

    Parameters
    ----------
    ref, probe
        Reference and comparison stimuli, shape ``(N, input_dim)``.
    responses
        Observed answers (1 correct, 0 wrong), shape ``(N,)``; ``None`` to
        simulate them.
    wppm
        The model configuration (prior, task, ``diag_term``).

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
    logits = wppm.trial_logits({prior.site: value}, ref, probe)
    with numpyro.plate("trial", ref.shape[0]):
        numpyro.sample("y", dist.Bernoulli(logits=logits), obs=responses)


class WPPM:
    """Wishart Process Psychophysical Model (the MVP: constant diagonal covariance).

    Accepts psyphy's seed-era call ``WPPM(input_dim, prior, task, noise)``
    (positionally or by keyword) and 0.0.5's ``WPPM(prior, likelihood, noise,
    *, input_dim)``.

    Parameters
    ----------
    input_dim
        Dimension of the stimulus space.
    prior
        :class:`~psyphy_numpyro.Prior`; defaults to ``Prior.default(input_dim)``.
    task
        :class:`~psyphy_numpyro.OddityTask` (default) or
        :class:`~psyphy_numpyro.TwoAFC`. ``likelihood=`` is an alias.
    noise
        Noise model; :class:`~psyphy_numpyro.GaussianNoise` by default.
    diag_term
        The :math:`\\epsilon` added to the covariance diagonal.
    """

    def __init__(
        self,
        prior: Any = None,
        likelihood: Any = None,
        noise: Any = None,
        *more: Any,
        input_dim: int | None = None,
        task: Any = None,
        diag_term: float = 1e-6,
    ) -> None:
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
                f"input_dim={input_dim} but the prior has input_dim={prior.input_dim}."
            )
        task = OddityTask() if task is None else task
        if not isinstance(task, (OddityTask, TwoAFC)):
            raise TypeError(
                f"task must be OddityTask or TwoAFC, got {type(task).__name__}."
            )
        self.input_dim = int(input_dim)
        self.prior = prior
        self.task = task
        self.noise = GaussianNoise() if noise is None else noise
        self.diag_term = check.non_negative("diag_term", diag_term)

    def __repr__(self) -> str:
        return (
            f"WPPM(input_dim={self.input_dim}, prior={self.prior!r}, "
            f"task={self.task!r}, noise={self.noise!r}, diag_term={self.diag_term})"
        )

    @property
    def likelihood(self) -> Any:
        """The task (psyphy 0.0.5 calls it ``likelihood``)."""
        return self.task

    # -- NumPyro --------------------------------------------------------------
    @property
    def numpyro_model(self) -> Callable[..., None]:
        """:func:`wppm_model` bound to this configuration: ``fn(ref, probe, responses=None)``."""
        return partial(wppm_model, wppm=self)

    # -- pure maths (jit/vmap/grad friendly) ----------------------------------
    def init_params(self, key: jax.Array) -> Params:
        """Draw initial parameters from the prior."""
        return self.prior.sample_params(key)

    def local_covariance(self, params: Params, x: Any = None) -> jnp.ndarray:
        """Covariance at ``x``: the MVP's covariance does not depend on ``x``."""
        del x
        return diagonal_covariance(params["log_diag"])

    def discriminability_batch(self, params: Params, ref, probe) -> jnp.ndarray:
        """Discriminability ``d`` of each trial, shape ``(N,)``."""
        cov = self.local_covariance(params)
        return mahalanobis(cov, jnp.asarray(probe) - jnp.asarray(ref), self.diag_term)

    def trial_logits(self, params: Params, ref, probe) -> jnp.ndarray:
        """Log-odds of a correct answer for each trial."""
        return self.task.logits(self.discriminability_batch(params, ref, probe))

    def discriminability(self, params: Params, stimulus) -> jnp.ndarray:
        """Discriminability of one ``(ref, probe)`` pair."""
        ref, probe = stimulus
        return self.discriminability_batch(params, jnp.atleast_2d(ref), jnp.atleast_2d(probe))[0]

    def predict_prob(self, params: Params, stimulus) -> jnp.ndarray:
        """p(correct) for one ``(ref, probe)`` pair."""
        return jax.nn.sigmoid(self.task.logits(self.discriminability(params, stimulus)))

    @partial(jax.jit, static_argnums=0)
    def log_likelihood(self, params: Params, trials: Trials) -> jnp.ndarray:
        """Bernoulli log-likelihood of each trial, shape ``(N,)`` (compiled)."""
        logits = self.trial_logits(params, trials.ref, trials.probe)
        return dist.Bernoulli(logits=logits).log_prob(trials.responses)

    # -- psyphy's API ---------------------------------------------------------
    def trials(self, data: Any) -> Trials:
        """Validate ``data`` against this model and return :class:`Trials`."""
        return as_trials(data, self.input_dim)

    def log_likelihood_from_data(self, params: Params, data: Any) -> jnp.ndarray:
        """Total log-likelihood of ``data`` (a scalar)."""
        return jnp.sum(self.log_likelihood(params, _trials(self, data)))

    def log_posterior_from_data(self, params: Params, data: Any) -> jnp.ndarray:
        """Log-likelihood plus :meth:`Prior.log_prob` (psyphy's unnormalised value)."""
        return self.log_likelihood_from_data(params, data) + self.prior.log_prob(params)


def _trials(model: WPPM, data: Any) -> Trials:
    # Inside jit (psyphy's from-scratch loop closes over data), data is
    # concrete, so validation still runs eagerly once per trace.
    return data if isinstance(data, Trials) else model.trials(data)
