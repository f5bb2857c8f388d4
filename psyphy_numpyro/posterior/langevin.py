"""``LangevinPosterior``: the draws of a MALA run (an MCMC posterior)."""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.posterior.mcmc import NUTSPosterior


class LangevinPosterior(NUTSPosterior):
    """Draws from :class:`LangevinSampler` (the same interface as NUTS's).

    Attributes
    ----------
    temperature
        The temperature the chain ran at (1 is the posterior).
    accept_rate
        Mean Metropolis acceptance probability after warm-up.

    Built like :class:`~psyphy_numpyro.NUTSPosterior` (``from_mcmc(mcmc,
    model, trials, model_kwargs, temperature=...)``), which documents ``params``, ``samples``,
    ``sample`` and ``to_inference_data``; ``log_likelihood`` there is the
    untempered per-trial likelihood, while ``sample_stats.lp`` is tempered.
    """

    def __init__(self, *args: Any, temperature: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.temperature = temperature
        self.accept_rate = float(np.mean(self.extra_fields["accept_prob"]))

    def __repr__(self) -> str:
        return (
            f"LangevinPosterior(chains={self.num_chains}, draws={self.num_draws}, "
            f"accept_rate={self.accept_rate:.3f}, temperature={self.temperature})"
        )
