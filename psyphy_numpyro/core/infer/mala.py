"""Langevin sampling (MALA) of the WPPM on NumPyro's HMC with one leapfrog step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from numpyro.infer import HMC, MCMC

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.mcmc import check_run_lengths, run_kernel

#: Acceptance rate the warm-up tunes the step size for: optimal for MALA
#: (Roberts & Rosenthal, 1998).
MALA_TARGET_ACCEPT = 0.574


class _MALA(HMC):
    """NumPyro's HMC whose state keeps one type from iteration to iteration.

    With a fixed number of leapfrog steps, NumPyro's HMC returns ``num_steps``
    as a weakly typed integer while its initial state holds a strong one, so
    the loop behind a progress bar compiles a second time at its second
    iteration, inside the bar's clock.
    """

    def sample(self, state, model_args, model_kwargs):
        new = super().sample(state, model_args, model_kwargs)
        return new._replace(num_steps=jax.lax.convert_element_type(
            new.num_steps, jnp.result_type(state.num_steps)))


def run_mala(
    rng_key: jax.Array,
    model: Callable[..., None],
    *model_args: Any,
    num_samples: int,
    step_size: float,
    num_warmup: int = 0,
    num_chains: int = 1,
    init_params: dict | None = None,
    progress_bar: bool = True,
    **model_kwargs: Any,
) -> MCMC:
    """Sample a NumPyro model with the Metropolis-adjusted Langevin algorithm.

    ``rng_key``, ``model`` (with a deterministic density), ``model_args``,
    ``model_kwargs``, ``num_samples``, ``num_chains``, ``init_params`` and
    ``progress_bar`` are as for :func:`~psyphy_numpyro.core.infer.mcmc.run_nuts`.

    Parameters
    ----------
    step_size
        Leapfrog step size :math:`\\epsilon` (the proposal's standard
        deviation per coordinate, with the identity mass matrix).
    num_warmup
        Warm-up iterations. When > 0, warm-up adapts the step size (from
        ``step_size``, for an acceptance rate of 0.574) and a diagonal mass
        matrix; with 0, ``step_size`` is used as given.

    Returns
    -------
    numpyro.infer.MCMC
        The finished run, with :data:`~psyphy_numpyro.core.infer.mcmc.SAMPLE_STATS_FIELDS`.
    """
    num_warmup, num_samples, num_chains = check_run_lengths(num_warmup, num_samples,
                                                            num_chains)
    step_size = check.positive("step_size", step_size)
    adapt = num_warmup > 0
    settings = {"step_size": step_size, "num_steps": 1, "trajectory_length": None,
                "adapt_step_size": adapt, "adapt_mass_matrix": adapt,
                "target_accept_prob": MALA_TARGET_ACCEPT}
    return run_kernel(rng_key, _MALA, model, settings, model_args, model_kwargs,
                      init_params=init_params, num_warmup=num_warmup,
                      num_samples=num_samples, num_chains=num_chains,
                      progress_bar=progress_bar)
