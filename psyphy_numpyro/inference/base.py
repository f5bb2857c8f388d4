"""psyphy's abstract ``InferenceEngine``: ``fit(model, data) -> posterior``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["InferenceEngine"]


class InferenceEngine(ABC):
    """Abstract base of the fitters (MAP, Laplace, NUTS, SVI, Langevin)."""

    @abstractmethod
    def fit(self, model: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Fit ``model`` to ``data`` and return a posterior."""
