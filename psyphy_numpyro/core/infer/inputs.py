"""The fixed model arguments that make the full WPPM's density deterministic.

Laplace, SVI, MALA and NUTS all target ``model.numpyro_model`` on the trials;
for the full WPPM with a Monte Carlo rule they share one set of fixed draws,
chosen here from the fit's seed.
"""

from __future__ import annotations

from typing import Any

from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.trials import Trials


def fixed_density_kwargs(model: Any, trials: Trials, seed: int) -> dict:
    """Model arguments that make the density deterministic, as NUTS uses them.

    For the full WPPM with a Monte Carlo rule, fixed draws
    (``model.draw_noise``) from the second half of ``PRNGKey(seed)`` split in
    two, the key :class:`~psyphy_numpyro.NUTSSampler` uses for the same
    ``seed``; nothing for the MVP or a deterministic rule.
    """
    if model.is_mvp:
        return {}
    noise = model.draw_noise(fit_keys(seed).noise, trials.ref.shape[0])
    return {} if noise is None else {"noise": noise}


