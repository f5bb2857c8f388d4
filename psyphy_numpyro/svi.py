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
from functools import partial
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
from tqdm.auto import tqdm

from . import _validation as check
from .approximate import _check_model, _DrawsPosterior, _fixed_density_kwargs
from .data import Trials

__all__ = ["GUIDES", "SVIApproximation", "SVIPosterior", "SVIResult", "fit_svi"]

#: Guide names and the NumPyro autoguides they stand for.
GUIDES = {
    "normal": AutoNormal,
    "lowrank": AutoLowRankMultivariateNormal,
    "multivariate": AutoMultivariateNormal,
}


def _check_guide(guide: Any, rank: Any) -> int | None:
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
    rank = _check_guide(guide, rank)
    num_steps = check.positive_int("num_steps", num_steps)
    num_particles = check.positive_int("num_particles", num_particles)
    init_scale = check.positive("init_scale", init_scale)
    if optimizer is None:
        rate = check.positive("learning_rate", learning_rate)
        optimizer = optax.adam(optax.cosine_decay_schedule(rate, num_steps, alpha=0.01))
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation, got "
            f"{type(optimizer).__name__}."
        )
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
    bar = tqdm(total=num_steps, desc="SVI", leave=False, disable=not progress_bar)
    with bar:
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


class SVIPosterior(_DrawsPosterior):
    """Posterior from :class:`SVIApproximation`: a fitted NumPyro autoguide.

    Attributes
    ----------
    params
        The guide's median (its mean, for these Gaussian guides), per site.
    model, trials
        The model and the data.
    guide, guide_params
        The autoguide and its fitted parameters.
    losses
        Negative ELBO at every step.
    model_kwargs
        Extra model arguments of the density (the full WPPM's fixed ``noise``).
    """

    inference = "svi"

    def __init__(
        self, result: SVIResult, model: Any, trials: Trials, model_kwargs: dict
    ) -> None:
        self.guide = result.guide
        self.guide_params = result.params
        self.losses = result.losses
        self.model = model
        self.trials = trials
        self.model_kwargs = dict(model_kwargs)
        self.params = self.guide.median(self.guide_params)
        site, guide = model.prior.site, self.guide

        @partial(jax.jit, static_argnums=1)
        def draw(guide_params, n, key):
            draws = guide.sample_posterior(key, guide_params, sample_shape=(n,))
            return {site: draws[site]}

        self._draw = draw

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the guide (leading axis ``n``)."""
        return self._draw(self.guide_params, check.positive_int("n", n), key)

    def __repr__(self) -> str:
        name = type(self.guide).__name__
        return f"SVIPosterior(guide={name}, final_loss={float(self.losses[-1]):.4g})"


class SVIApproximation:
    """Approximate a WPPM's posterior by SVI with a Gaussian autoguide.

    Parameters
    ----------
    guide
        ``"normal"`` (mean-field ``AutoNormal``), ``"lowrank"``
        (``AutoLowRankMultivariateNormal``) or ``"multivariate"``.
    steps
        Optimiser steps.
    learning_rate
        Initial rate of the default optimiser: Adam, decayed to 1% by a
        cosine schedule over the steps (see :func:`fit_svi`).
    optimizer
        Any optax transformation, used instead of the default.
    rank
        Rank of the low-rank guide.
    init_scale
        Starting standard deviation of every guide coordinate; by default a
        tenth of the smallest prior standard deviation.
    num_particles
        Monte Carlo draws of the ELBO per step.
    seed
        Seed of the fit; for the full WPPM also of the fixed Monte Carlo draws
        (the same draws :class:`~psyphy_numpyro.NUTSSampler` uses for this seed).
    show_progress
        Show a progress bar.

    Examples
    --------
    >>> svi = SVIApproximation(guide="lowrank", steps=3000, learning_rate=1e-2)
    """

    def __init__(
        self,
        guide: str = "normal",
        steps: int = 2000,
        learning_rate: float = 1e-2,
        optimizer: optax.GradientTransformation | None = None,
        *,
        rank: int | None = None,
        init_scale: float | None = None,
        num_particles: int = 1,
        seed: int = 0,
        show_progress: bool = True,
    ) -> None:
        self.rank = _check_guide(guide, rank)
        self.guide = guide
        self.steps = check.positive_int("steps", steps)
        self.learning_rate = check.positive("learning_rate", learning_rate)
        transform = optax.GradientTransformation
        if optimizer is not None and not isinstance(optimizer, transform):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation, got "
                f"{type(optimizer).__name__}."
            )
        self.optimizer = optimizer
        self.init_scale = None if init_scale is None else check.positive(
            "init_scale", init_scale
        )
        self.num_particles = check.positive_int("num_particles", num_particles)
        self.seed = check.positive_int("seed", seed, minimum=0)
        self.show_progress = bool(show_progress)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> SVIPosterior:
        """Fit the guide to the posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting means: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: a draw from the prior, as
            :class:`~psyphy_numpyro.MAPOptimizer` starts.
        """
        model = _check_model(model)
        trials = model.trials(data)
        if init_params is not None and hasattr(init_params, "params"):
            init_params = init_params.params
        key_fit, _ = jax.random.split(jax.random.PRNGKey(self.seed))
        key_init, key_svi = jax.random.split(key_fit)
        if init_params is None:
            init_params = model.init_params(key_init)
        init_params = model.prior.check_params(init_params, "init_params")
        init_scale = self.init_scale
        if init_scale is None:
            init_scale = 0.1 * float(np.min(model.prior.stddev()))
        model_kwargs = _fixed_density_kwargs(model, trials, self.seed)
        result = fit_svi(
            key_svi,
            model.numpyro_model,
            *trials,  # ref, probe, responses
            guide=self.guide,
            num_steps=self.steps,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            rank=self.rank,
            init_params=init_params,
            init_scale=init_scale,
            num_particles=self.num_particles,
            progress_bar=self.show_progress,
            **model_kwargs,
        )
        return SVIPosterior(result, model, trials, model_kwargs)
