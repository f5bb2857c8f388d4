"""Variational posteriors: NumPyro SVI with Gaussian autoguides, driven by optax.

:func:`fit_svi` is the functional core (any NumPyro model);
:class:`SVIApproximation` fits a WPPM and returns an :class:`SVIPosterior`
with psyphy's posterior protocol. Guides: ``AutoNormal`` (mean-field; it
tends to understate the spread of correlated parameters),
``AutoLowRankMultivariateNormal`` and ``AutoMultivariateNormal``. A Gaussian
fitted by SVI minimises KL(q || p), so it is usually a little narrower than a
skewed posterior (on the MVP, 4-8% in the standard deviations).

For the full WPPM the fit targets the same deterministic density as
:class:`~psyphy_numpyro.NUTSSampler` (fixed Monte Carlo draws from ``seed``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import (
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from numpyro.infer.initialization import init_to_median, init_to_value

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.progress import compile_ahead, open_bar, start_clock

#: Guide names and the NumPyro autoguides they stand for.
GUIDES = {
    "normal": AutoNormal,
    "lowrank": AutoLowRankMultivariateNormal,
    "multivariate": AutoMultivariateNormal,
}


def check_guide(guide: Any, rank: Any) -> int | None:
    """Validate the guide name and the low-rank guide's rank; return the rank."""
    if guide not in GUIDES:
        raise ValueError(f"guide must be one of {sorted(GUIDES)}, got {guide!r}.")
    if rank is None:
        return None
    if guide != "lowrank":
        raise ValueError(f'rank applies to guide="lowrank" only, got guide={guide!r}.')
    return check.positive_int("rank", rank)


class SVIResult(NamedTuple):
    """Result of :func:`fit_svi`.

    Attributes
    ----------
    guide
        The NumPyro autoguide.
    params
        The guide's fitted parameters (pass to ``guide.sample_posterior``).
    losses
        Negative ELBO at every step.
    """

    guide: Any
    params: dict
    losses: np.ndarray


def fit_svi(
    rng_key: jax.Array,
    model: Callable[..., None],
    *model_args: Any,
    guide: str = "normal",
    num_steps: int,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-2,
    rank: int | None = None,
    init_params: dict | None = None,
    init_scale: float = 0.1,
    num_particles: int = 1,
    progress_bar: bool = True,
    **model_kwargs: Any,
) -> SVIResult:
    """Fit a Gaussian autoguide to a NumPyro model by SVI (``Trace_ELBO``).

    Parameters
    ----------
    rng_key
        Key for SVI.
    model
        A NumPyro model; ``model_args``/``model_kwargs`` are passed to it.
    guide
        ``"normal"`` (``AutoNormal``, mean-field), ``"lowrank"``
        (``AutoLowRankMultivariateNormal``) or ``"multivariate"``
        (``AutoMultivariateNormal``, full covariance).
    num_steps
        Optimiser steps.
    optimizer
        Any optax transformation. By default Adam with ``learning_rate``
        decayed to 1% of it over ``num_steps`` by a cosine schedule, so that
        the last iterate settles (at a constant rate the guide keeps
        jittering on the scale of the rate).
    rank
        Rank of the low-rank guide (NumPyro's default when None).
    init_params
        Starting means per site (e.g. a MAP fit); else the prior median.
    init_scale
        Starting standard deviation of every guide coordinate.
    num_particles
        Monte Carlo draws of the ELBO per step.
    progress_bar
        Show a progress bar.

    Returns
    -------
    SVIResult

    Examples
    --------
    >>> import numpyro, numpyro.distributions as dist
    >>> def model():
    ...     numpyro.sample("x", dist.Normal(1.0, 2.0))
    >>> res = fit_svi(jax.random.PRNGKey(0), model, num_steps=2000,
    ...               learning_rate=0.05, progress_bar=False)
    >>> post = res.guide.sample_posterior(jax.random.PRNGKey(1), res.params,
    ...                                   sample_shape=(4000,))
    >>> bool(abs(post["x"].mean() - 1.0) < 0.4 and abs(post["x"].std() - 2.0) < 0.2)
    True
    """
    rank = check_guide(guide, rank)
    num_steps = check.iterations("num_steps", num_steps)
    num_particles = check.positive_int("num_particles", num_particles)
    init_scale = check.positive("init_scale", init_scale)
    if optimizer is None:
        rate = check.positive("learning_rate", learning_rate)
        optimizer = optax.adam(optax.cosine_decay_schedule(rate, num_steps, alpha=0.01))
    else:
        check.optimizer("optimizer", optimizer)
    init_fn = (
        init_to_median if init_params is None else init_to_value(values=init_params)
    )
    options = {"rank": rank} if guide == "lowrank" else {}
    auto = GUIDES[guide](model, init_loc_fn=init_fn, init_scale=init_scale, **options)
    svi = SVI(model, auto, optimizer, loss=Trace_ELBO(num_particles=num_particles))
    # Compiled, including the guide's set-up, which NumPyro runs op by op.
    chunk = max(1, math.ceil(num_steps / 20)) if progress_bar else num_steps

    @jax.jit
    def init(key, args, kwargs):
        return svi.init(key, *args, **kwargs)

    @jax.jit
    def run_chunk(state, steps_left, args, kwargs):
        # steps past `steps_left` leave the state unchanged (one compilation)
        def body(state, i):
            new_state, loss = svi.stable_update(state, *args, **kwargs)
            keep = i < steps_left
            state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new_state, state)
            return state, loss

        return jax.lax.scan(body, state, jnp.arange(chunk))

    state = init(rng_key, model_args, model_kwargs)
    chunks, done = [], 0
    with open_bar(num_steps, "SVI", progress_bar) as bar:
        run_chunk = compile_ahead(run_chunk, state, num_steps, model_args, model_kwargs)
        start_clock(bar, "SVI")
        while done < num_steps:
            state, losses = run_chunk(state, num_steps - done, model_args, model_kwargs)
            chunks.append(np.asarray(losses)[: num_steps - done])
            done += len(chunks[-1])
            bar.update(len(chunks[-1]))
            bar.set_postfix(loss=f"{chunks[-1][-1]:.4g}")
    losses = np.concatenate(chunks)
    if not np.all(np.isfinite(losses)):
        bad = int(np.sum(~np.isfinite(losses)))
        warnings.warn(
            f"SVI had {bad} step(s) with a non-finite loss; those updates were "
            "skipped. Try a smaller learning_rate or a smaller init_scale.",
            RuntimeWarning,
            stacklevel=2,
        )
    return SVIResult(auto, svi.get_params(state), losses)
