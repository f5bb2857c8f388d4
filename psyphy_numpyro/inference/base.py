"""psyphy's abstract ``InferenceEngine``: ``fit(model, data) -> posterior``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["InferenceEngine", "start_params"]


def start_params(model: Any, init_params: Any) -> dict | None:
    """A fit's starting point: None, a checked params dict, or a posterior's ``params``."""
    if init_params is None:
        return None
    if hasattr(init_params, "params"):  # e.g. a MAP fit
        init_params = init_params.params
    return model.prior.check_params(init_params, "init_params")


class InferenceEngine(ABC):
    """Abstract base of the fitters (MAP, Laplace, NUTS, SVI, Langevin)."""

    @abstractmethod
    def fit(self, model: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Fit ``model`` to ``data`` and return a posterior."""
