"""Task likelihoods under psyphy's names (psyphy's ``model.likelihood``).

The tasks themselves are frozen records in :mod:`psyphy_numpyro.core.tasks`
(:class:`OddityTask`, :class:`TwoAFC`). psyphy's abstract bases are defined
here and the core's tasks registered with them, so ``isinstance(task,
TaskLikelihood)`` holds as in psyphy without the core importing this layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from psyphy_numpyro.core.keys import default_draw_key
from psyphy_numpyro.core.tasks import OddityTask, OddityTaskConfig, TwoAFC

__all__ = [
    "BernoulliTaskLikelihood",
    "GaussianTaskLikelihood",
    "OddityTask",
    "OddityTaskConfig",
    "TaskLikelihood",
    "TwoAFC",
]


class TaskLikelihood(ABC):
    """Abstract task: p(correct) of stimuli, their log-likelihood, simulation."""

    @abstractmethod
    def predict(self, params: Any, stimuli: Any, model: Any, **kwargs: Any) -> Any:
        """Probability of a correct answer for each trial."""

    @abstractmethod
    def loglik(self, params: Any, data: Any, model: Any, **kwargs: Any) -> Any:
        """Total log-likelihood of observed answers."""

    @abstractmethod
    def simulate(self, params: Any, stimuli: Any, model: Any, **kwargs: Any) -> Any:
        """Simulated answers for the stimuli."""

    def _per_trial(self, params: Any, stimuli: Any, model: Any, key: Any) -> tuple:
        """``predict`` on every trial of ``stimuli`` ``(N, k_stim, d)``, one key each."""
        stimuli = jnp.asarray(stimuli)
        keys = jax.random.split(key, stimuli.shape[0])
        def one(s: Any, k: Any) -> tuple:
            out = self.predict(params, s, model, key=k)
            return tuple(out) if isinstance(out, (tuple, list)) else (out,)

        return jax.vmap(one)(stimuli, keys)


class BernoulliTaskLikelihood(TaskLikelihood, ABC):
    """A task whose answers are right/wrong (Bernoulli).

    A subclass writes only ``predict(params, stimuli, model, *, key)``, which
    returns ``(p_correct,)`` for one trial of stimuli ``(k_stim, input_dim)``;
    :meth:`loglik` and :meth:`simulate` apply it to every trial with its own
    key (split from ``key``; ``PRNGKey(0)`` when None, as in psyphy).
    """

    def loglik(self, params: Any, data: Any, model: Any, *, key: Any = None) -> Any:
        """Total Bernoulli log-likelihood of ``data`` (``.stimuli``, ``.responses``)."""
        responses = jnp.asarray(data.responses)
        responses = responses[:, 0] if responses.ndim == 2 else responses
        (p,) = self._per_trial(params, data.stimuli, model, default_draw_key(key))
        # psyphy's formula, log(1 - p) included, so that values agree to the bit
        return jnp.sum(jnp.where(responses == 1, jnp.log(p), jnp.log(1.0 - p)))

    def simulate(self, params: Any, stimuli: Any, model: Any, *, key: Any) -> Any:
        """Simulated answers ``(responses, (p_correct,))`` for trials ``(N, k_stim, d)``."""
        key_p, key_y = jax.random.split(key)
        (p,) = self._per_trial(params, stimuli, model, key_p)
        return jax.random.bernoulli(key_y, p).astype(jnp.int32), (p,)


class GaussianTaskLikelihood(TaskLikelihood, ABC):
    """A task whose answers are continuous: Gaussian given the stimuli.

    A subclass writes only ``predict(params, stimuli, model, *, key)``, which
    returns ``(mean, cov)`` of one trial's answer (shapes ``(R,)`` and
    ``(R, R)``); no task of this package is of this kind yet.
    """

    def loglik(self, params: Any, data: Any, model: Any, *, key: Any = None) -> Any:
        """Total Gaussian log-likelihood of ``data.responses`` ``(N, R)``."""
        mean, cov = _gaussian(*self._per_trial(params, data.stimuli, model,
                                               default_draw_key(key)))
        responses = jnp.asarray(data.responses).reshape(mean.shape)
        return jnp.sum(dist.MultivariateNormal(mean, cov).log_prob(responses))

    def simulate(self, params: Any, stimuli: Any, model: Any, *, key: Any) -> Any:
        """Simulated answers ``(responses, (mean, cov))``, responses ``(N, R)``."""
        key_p, key_y = jax.random.split(key)
        mean, cov = _gaussian(*self._per_trial(params, stimuli, model, key_p))
        return dist.MultivariateNormal(mean, cov).sample(key_y), (mean, cov)


def _gaussian(mean: Any, cov: Any) -> tuple[Any, Any]:
    """Per-trial means ``(N, R)`` and covariances ``(N, R, R)`` from ``predict``'s output.

    A scalar answer may come as a scalar mean and variance. Covariances that are
    not positive definite are refused (psyphy warns and returns NaN).
    """
    n = jnp.shape(mean)[0]
    mean = jnp.asarray(mean, jnp.float32).reshape(n, -1)
    cov = jnp.asarray(cov, jnp.float32).reshape(n, mean.shape[1], mean.shape[1])
    if not isinstance(cov, jax.core.Tracer):
        smallest = np.linalg.eigvalsh(np.asarray(cov, float)).min(axis=-1)
        bad = np.flatnonzero(~(smallest > 0))
        if bad.size:
            raise ValueError(
                f"predict returned covariances that are not positive definite for "
                f"{bad.size} trial(s), e.g. trial {bad[0]} (smallest eigenvalue "
                f"{smallest[bad[0]]:.3g}); a Gaussian task needs positive definite ones."
            )
    return mean, cov


BernoulliTaskLikelihood.register(OddityTask)
BernoulliTaskLikelihood.register(TwoAFC)
