"""psyphy's abstract ``InferenceEngine``: ``fit(model, data) -> posterior``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs
from psyphy_numpyro.core.keys import FitKeys, fit_keys

__all__ = ["InferenceEngine", "start_params"]


def start_params(model: Any, init_params: Any) -> dict | None:
    """A fit's starting point: None, a checked params dict, or a posterior's ``params``."""
    if init_params is None:
        return None
    if hasattr(init_params, "params"):  # e.g. a MAP fit
        init_params = init_params.params
    return model.check_params(init_params, "init_params")


class InferenceEngine(ABC):
    """Abstract base of the fitters (MAP, Laplace, NUTS, SVI, Langevin)."""

    @abstractmethod
    def fit(self, model: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        """Fit ``model`` to ``data`` and return a posterior."""

    def _keep_run_settings(self, *, seed: Any, progress_bar: Any,
                           num_chains: Any = None, num_warmup: Any = None) -> None:
        """Check and keep the settings the samplers share (seed, bar, chains, warm-up)."""
        self.seed = check.seed("seed", seed)
        self.progress_bar = bool(progress_bar)
        if num_chains is not None:
            self.num_chains = check.positive_int("num_chains", num_chains)
        if num_warmup is not None:
            self.num_warmup = check.iterations("num_warmup", num_warmup, minimum=0)

    def _fit_inputs(self, model: Any, data: Any, init_params: Any
                    ) -> tuple[Any, Any, dict | None, FitKeys, dict]:
        """A fit's checked model, trials, start, keys (from ``self.seed``) and the
        model keywords of its deterministic density (fixed Monte Carlo draws)."""
        model = check.wppm(model)
        trials = model.trials(data)
        return (model, trials, start_params(model, init_params), fit_keys(self.seed),
                fixed_density_kwargs(model, trials, self.seed))
