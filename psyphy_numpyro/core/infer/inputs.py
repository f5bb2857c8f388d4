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

    For the full WPPM with a Monte Carlo rule, fixed samples
    (``model.draw_mc_samples``) from ``fit_keys(seed).mc_samples``: the same
    for NUTS, MALA, Laplace and SVI at one seed; nothing for the MVP or a
    deterministic rule.
    """
    if model.is_mvp:
        return {}
    mc_samples = model.draw_mc_samples(fit_keys(seed).mc_samples, trials.ref.shape[0])
    return {} if mc_samples is None else {"mc_samples": mc_samples}


