"""Full posteriors with NUTS, on the same NumPyro model the MAP fit uses.

:func:`run_nuts` is the functional core (it returns NumPyro's ``MCMC``);
:class:`NUTSSampler` is the psyphy-style interface and returns a
:class:`NUTSPosterior` that converts to ArviZ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_median, init_to_value

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.gauge import to_free
from psyphy_numpyro.core.infer.progress import say

#: Extra fields every run records, so ArviZ's ``sample_stats`` is complete.
SAMPLE_STATS_FIELDS = ("diverging", "accept_prob", "num_steps", "potential_energy", "energy")


def run_nuts(
    rng_key: jax.Array,
    model: Callable[..., None],
    *model_args: Any,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 1,
    init_params: dict | None = None,
    chain_init_params: dict | None = None,
    target_accept_prob: float = 0.8,
    dense_mass: bool = False,
    progress_bar: bool = True,
    **model_kwargs: Any,
) -> MCMC:
    """Sample a NumPyro model with NUTS.

    Parameters
    ----------
    rng_key
        Key for the chains.
    model
        A NumPyro model; ``model_args``/``model_kwargs`` are passed to it.
    num_warmup, num_samples
        Warm-up (adaptation) and kept iterations per chain.
    num_chains
        Number of chains; run in parallel when there are enough JAX devices,
        otherwise vectorised on one device (faster than one after another
        for models this small).
    init_params
        Starting point per site (e.g. a MAP estimate), shared by every chain;
        else the prior median.
    chain_init_params
        Starting points per chain instead, each site with a leading
        ``num_chains`` axis (unconstrained values, passed to ``MCMC.run``).
    target_accept_prob, dense_mass
        Passed to ``numpyro.infer.NUTS``.
    progress_bar
        Show NumPyro's progress bar.

    Returns
    -------
    numpyro.infer.MCMC
        The finished run, with :data:`SAMPLE_STATS_FIELDS` recorded.
    """
    num_warmup, num_samples, num_chains = check_run_lengths(num_warmup, num_samples,
                                                            num_chains)
    check.open_unit_interval("target_accept_prob", target_accept_prob)
    kernel = NUTS(
        model,
        init_strategy=init_strategy(init_params),
        target_accept_prob=target_accept_prob,
        dense_mass=dense_mass,
    )
    if chain_init_params is not None:
        for site, value in chain_init_params.items():
            if jnp.shape(value)[:1] != (num_chains,):
                raise ValueError(
                    f"chain_init_params[{site!r}] needs a leading axis of num_chains "
                    f"= {num_chains}, got shape {jnp.shape(value)}."
                )
        if num_chains == 1:  # NumPyro takes one chain's start without the axis
            chain_init_params = jax.tree.map(lambda x: x[0], chain_init_params)
    return run_kernel(rng_key, kernel, model_args, model_kwargs, num_warmup=num_warmup,
                      num_samples=num_samples, num_chains=num_chains,
                      progress_bar=progress_bar, chain_init_params=chain_init_params)


def check_run_lengths(num_warmup: Any, num_samples: Any, num_chains: Any
                      ) -> tuple[int, int, int]:
    """Checked warm-up length (>= 0), kept draws and chains (>= 1) of a run."""
    return (check.positive_int("num_warmup", num_warmup, minimum=0),
            check.positive_int("num_samples", num_samples),
            check.positive_int("num_chains", num_chains))


def init_strategy(init_params: dict | None) -> Any:
    """NumPyro's start: the prior median, or ``init_params`` when given."""
    return init_to_median if init_params is None else init_to_value(values=init_params)


def run_kernel(rng_key: jax.Array, kernel: Any, model_args: tuple, model_kwargs: dict, *,
               num_warmup: int, num_samples: int, num_chains: int, progress_bar: bool,
               chain_init_params: dict | None = None) -> MCMC:
    """Run an MCMC kernel with this package's chain policy and sample statistics.

    Chains run in parallel when there are enough devices and vectorised
    otherwise; :data:`SAMPLE_STATS_FIELDS` are always recorded. With the
    progress bar on, one chain or vectorised chains are compiled before the
    bar opens (:func:`compile_mcmc`), so its rate and remaining time are the
    iterations'; parallel chains keep NumPyro's bars, which say ``Compiling``
    until their first iteration.
    """
    parallel = jax.local_device_count() >= num_chains
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="parallel" if parallel else "vectorized",
        progress_bar=progress_bar,
    )
    run_args = dict(extra_fields=SAMPLE_STATS_FIELDS, init_params=chain_init_params,
                    **model_kwargs)
    if mcmc.progress_bar and (num_chains == 1 or not parallel):
        compile_mcmc(mcmc, rng_key, *model_args, **run_args)
    mcmc.run(rng_key, *model_args, **run_args)
    return mcmc


def compile_mcmc(mcmc: MCMC, rng_key: jax.Array, *model_args: Any, **run_args: Any) -> None:
    """Initialise and compile ``mcmc`` for ``mcmc.run`` with the same arguments.

    NumPyro's bar for one chain or vectorised chains counts its first
    iteration from before that iteration's compilation, which for the full
    WPPM takes minutes, so it starts with an estimate of hours. Compiling
    first (NumPyro's ``MCMC._compile``, which keeps the initial state and
    the compiled loop for a ``run`` with the same key and argument objects)
    leaves the bar only compiled iterations to time. A line on stderr says
    that it is compiling meanwhile.
    """
    if not hasattr(mcmc, "_compile"):  # a NumPyro without it: its bar as it is
        return
    name = type(mcmc.sampler).__name__.lstrip("_")
    say(f"{name}: compiling the sampler (its progress bar starts after this)")
    mcmc._compile(rng_key, *model_args, **run_args)


def gauge_fixed_starts(model: Any, init_params: dict | None, key: jax.Array,
                        num_chains: int, frame: Any) -> jnp.ndarray:
    """Gauge-free starts: ``init_params`` (chain 0) and jittered copies, or prior draws.

    The jitter is a tenth of the prior sd of each weight, so the chains start
    apart while near the fit.
    """
    sd = model.prior.stddev()
    draws = sd * jax.random.normal(key, (num_chains, *sd.shape))
    if init_params is None:
        W = draws
    else:
        W = init_params["W"] + 0.1 * draws.at[0].set(0.0)
    return jax.vmap(lambda w: to_free(w, sd, frame))(W)


def rotated_starts(W: Any, key: jax.Array, num_chains: int) -> jnp.ndarray:
    """One start per chain: ``W`` turned by independent random rotations.

    ``W -> W R`` (``R`` orthogonal, acting on the embedding axis) leaves the
    full WPPM's prior and likelihood unchanged, so every start has the
    density of ``W`` while the chains begin far apart on its orbit. The first
    chain starts at ``W`` itself.

    Returns
    -------
    jnp.ndarray
        Shape ``(num_chains, *W.shape)``.
    """
    W = jnp.asarray(W)
    R = jax.random.orthogonal(key, W.shape[-1], (num_chains,))
    R = R.at[0].set(jnp.eye(W.shape[-1], dtype=R.dtype))
    return jnp.einsum("...e,cef->c...f", W, R)
