"""Full posteriors with NUTS, on the same NumPyro model the MAP fit uses.

:func:`run_nuts` is the functional core (it returns NumPyro's ``MCMC``);
:class:`NUTSSampler` is the psyphy-style interface and returns a
:class:`NUTSPosterior` that converts to ArviZ.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_median, init_to_value

from . import _validation as check
from .data import Trials
from .gauge import from_free, gauge_fixed_model, principal_frame, to_free

__all__ = [
    "SAMPLE_STATS_FIELDS", "NUTSPosterior", "NUTSSampler", "rotated_starts", "run_nuts",
]

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
    num_warmup = check.positive_int("num_warmup", num_warmup, minimum=0)
    num_samples = check.positive_int("num_samples", num_samples)
    num_chains = check.positive_int("num_chains", num_chains)
    check.open_unit_interval("target_accept_prob", target_accept_prob)
    init_fn = init_to_median if init_params is None else init_to_value(values=init_params)
    kernel = NUTS(
        model,
        init_strategy=init_fn,
        target_accept_prob=target_accept_prob,
        dense_mass=dense_mass,
    )
    parallel = jax.local_device_count() >= num_chains
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="parallel" if parallel else "vectorized",
        progress_bar=progress_bar,
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
    mcmc.run(rng_key, *model_args, extra_fields=SAMPLE_STATS_FIELDS,
             init_params=chain_init_params, **model_kwargs)
    return mcmc


def _gauge_fixed_starts(model: Any, init_params: dict | None, key: jax.Array,
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


class NUTSPosterior:
    """Posterior draws from :class:`NUTSSampler`.

    Attributes
    ----------
    mcmc
        NumPyro's ``MCMC`` object.
    model
        The model that was sampled.
    trials
        The data it was conditioned on.
    samples
        Draws per site, chains flattened: ``{"log_diag": (num_chains * num_samples, d)}``.
    params
        A point estimate: the posterior mean for the MVP; for the full WPPM
        the draw of highest posterior density, because ``W`` is identified
        only up to sign and rotation in the embedding, so its mean collapses
        the field.
    num_divergences
        Divergent transitions after warm-up (all chains).
    """

    def __init__(
        self, mcmc: MCMC, model: Any, trials: Trials, model_kwargs: dict | None = None
    ) -> None:
        self.mcmc = mcmc
        self.model = model
        self.trials = trials
        self.model_kwargs = dict(model_kwargs or {})
        site = model.prior.site  # W_free of a gauge-fixed run is left in mcmc
        self.samples = {site: mcmc.get_samples()[site]}
        if model.is_mvp:
            self.params = jax.tree.map(lambda x: jnp.mean(x, axis=0), self.samples)
        else:  # W is identified only up to sign/rotation: its mean is meaningless
            energy = mcmc.get_extra_fields()["potential_energy"]
            free = mcmc.get_samples().get("W_free")
            if free is not None:  # gauge-fixed: take out the orbit-volume factor
                # (it depends on the block's diagonal only, not on the frame)
                scale = model.prior.stddev()
                energy = energy + jax.vmap(lambda f: from_free(f, scale)[1])(free)
            best = int(jnp.argmin(energy))
            self.params = jax.tree.map(lambda x: x[best], self.samples)
        self.num_divergences = int(np.sum(mcmc.get_extra_fields()["diverging"]))

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the stored posterior draws (with replacement)."""
        n = check.positive_int("n", n)
        total = next(iter(self.samples.values())).shape[0]
        idx = jax.random.randint(key, (n,), 0, total)
        return jax.tree.map(lambda x: x[idx], self.samples)

    def to_inference_data(self, *, posterior_predictive: bool = True, seed: int = 0):
        """Convert to ArviZ (see :func:`psyphy_numpyro.to_inference_data`)."""
        from .convert import to_inference_data

        return to_inference_data(
            self.mcmc, self.model, self.trials,
            posterior_predictive=posterior_predictive, rng_key=jax.random.PRNGKey(seed),
            model_kwargs=self.model_kwargs,
        )

    def __repr__(self) -> str:
        chains, draws = self.mcmc.num_chains, self.mcmc.num_samples
        return (
            f"NUTSPosterior(chains={chains}, draws={draws}, "
            f"divergences={self.num_divergences})"
        )


class NUTSSampler:
    """Sample a WPPM's posterior with NUTS.

    Parameters
    ----------
    num_warmup, num_samples, num_chains
        Iterations per chain and number of chains.
    seed
        Seed of the chains' random key.
    target_accept_prob, dense_mass
        NUTS settings.
    progress_bar
        Show NumPyro's progress bar.
    fix_rotations
        Full WPPM: sample ``W`` with its embedding rotation fixed
        (:func:`~psyphy_numpyro.gauge.gauge_fixed_model`). Every
        rotation-invariant readout has the same posterior, ``W``'s entries are
        identified, and NUTS no longer wanders along the rotations, which
        makes its trajectories much shorter.

    Examples
    --------
    >>> sampler = NUTSSampler(num_warmup=500, num_samples=1000, num_chains=4)
    """

    def __init__(
        self,
        num_warmup: int = 500,
        num_samples: int = 1000,
        num_chains: int = 4,
        seed: int = 0,
        *,
        target_accept_prob: float = 0.8,
        dense_mass: bool = False,
        progress_bar: bool = True,
        fix_rotations: bool = False,
    ) -> None:
        self.fix_rotations = bool(fix_rotations)
        self.num_warmup = check.positive_int("num_warmup", num_warmup, minimum=0)
        self.num_samples = check.positive_int("num_samples", num_samples)
        self.num_chains = check.positive_int("num_chains", num_chains)
        self.seed = int(seed)
        self.target_accept_prob = check.open_unit_interval(
            "target_accept_prob", target_accept_prob
        )
        self.dense_mass = bool(dense_mass)
        self.progress_bar = bool(progress_bar)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> NUTSPosterior:
        """Sample the posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting point: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: the prior median. For the full WPPM
            with several chains, chain ``c > 0`` starts at ``W`` turned by a
            random rotation of the embedding (:func:`rotated_starts`): the
            same density, a different point. With ``fix_rotations``, chains
            start at the fit and copies jittered by a tenth of the prior sd,
            or, without ``init_params``, at prior draws.
        """
        trials = model.trials(data)
        if init_params is not None and hasattr(init_params, "params"):
            init_params = init_params.params
        if init_params is not None:
            init_params = model.prior.check_params(init_params, "init_params")
        key_chains, key_noise, key_starts = jax.random.split(
            jax.random.PRNGKey(self.seed), 3)
        numpyro_model, chain_init = model.numpyro_model, None
        if self.fix_rotations and model.is_mvp:
            raise ValueError("fix_rotations=True needs the full WPPM: the MVP has no "
                             "rotation symmetry.")
        if self.fix_rotations:
            # the block: the principal axes of the start, pooling every row
            frame = (None if init_params is None else
                     principal_frame(init_params["W"], model.prior.stddev()))
            numpyro_model = gauge_fixed_model(model, frame)
            chain_init = {"W_free": _gauge_fixed_starts(model, init_params, key_starts,
                                                        self.num_chains, frame)}
            init_params = None
        elif init_params is not None and not model.is_mvp and self.num_chains > 1:
            # the chains start at the same density but apart, turned along
            # the embedding symmetry, so R-hat compares separate starts
            chain_init = {"W": rotated_starts(init_params["W"], key_starts,
                                              self.num_chains)}
            init_params = None
        # The full WPPM's Monte Carlo rule gets fixed draws (common random
        # numbers), so the density NUTS explores is deterministic.
        model_kwargs = {}
        if model.needs_draws:
            model_kwargs["noise"] = model.draw_noise(key_noise, trials.ref.shape[0])
        mcmc = run_nuts(
            key_chains,
            numpyro_model,
            *trials,  # ref, probe, responses
            num_warmup=self.num_warmup,
            num_samples=self.num_samples,
            num_chains=self.num_chains,
            init_params=init_params,
            chain_init_params=chain_init,
            target_accept_prob=self.target_accept_prob,
            dense_mass=self.dense_mass,
            progress_bar=self.progress_bar,
            **model_kwargs,
        )
        posterior = NUTSPosterior(mcmc, model, trials, model_kwargs)
        if posterior.num_divergences:
            warnings.warn(
                f"NUTS had {posterior.num_divergences} divergent transition(s) after "
                "warm-up; the posterior may be biased. Try target_accept_prob=0.95.",
                RuntimeWarning,
                stacklevel=2,
            )
        return posterior
