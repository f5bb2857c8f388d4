"""Task likelihoods under psyphy's names (psyphy's ``model.likelihood``).

The tasks themselves are frozen records in :mod:`psyphy_numpyro.core.tasks`
(:class:`OddityTask`, :class:`TwoAFC`). psyphy's abstract bases are defined
here and the core's tasks registered with them, so ``isinstance(task,
TaskLikelihood)`` holds as in psyphy without the core importing this layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

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


class BernoulliTaskLikelihood(TaskLikelihood, ABC):
    """A task whose answers are right/wrong (Bernoulli)."""


class GaussianTaskLikelihood(TaskLikelihood, ABC):
    """A task whose answers are continuous (Gaussian); none is built here yet."""


BernoulliTaskLikelihood.register(OddityTask)
BernoulliTaskLikelihood.register(TwoAFC)
