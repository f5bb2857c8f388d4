r"""Langevin sampling (MALA) and psyphy's ``NumpyroSampler``, on NumPyro's HMC.

A Metropolis-adjusted Langevin step is Hamiltonian Monte Carlo with a single
leapfrog step: with step size :math:`\epsilon` and a fresh momentum
:math:`\xi \sim \mathcal N(0, M)`, the proposal is

.. math:: \theta' = \theta + \tfrac{\epsilon^2}{2} M^{-1} \nabla \log \pi(\theta)
          + \epsilon M^{-1} \xi,

accepted with the Metropolis-Hastings probability, so the chain targets
:math:`\pi` exactly. :func:`run_mala` runs it as ``numpyro.infer.HMC(...,
num_steps=1)``; :class:`LangevinSampler` is psyphy's interface over it.
:class:`NumpyroSampler` is psyphy's name for the NUTS sampler.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import numpyro
from numpyro.infer import HMC, MCMC
from numpyro.infer.initialization import init_to_median, init_to_value

from . import _validation as check
from .approximate import _check_model, _fixed_density_kwargs
from .data import Trials
from .mcmc import SAMPLE_STATS_FIELDS, NUTSPosterior, NUTSSampler

__all__ = ["LangevinPosterior", "LangevinSampler", "NumpyroSampler", "run_mala"]

#: Acceptance rate the warm-up tunes the step size for: optimal for MALA
#: (Roberts & Rosenthal, 1998).
MALA_TARGET_ACCEPT = 0.574


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

    Parameters
    ----------
    rng_key
        Key for the chains.
    model
        A NumPyro model with a deterministic density.
    num_samples
        Kept iterations per chain.
    step_size
        Leapfrog step size :math:`\\epsilon` (the proposal's standard
        deviation per coordinate, with the identity mass matrix).
    num_warmup
        Warm-up iterations. When > 0, warm-up adapts the step size (from
        ``step_size``, for an acceptance rate of 0.574) and a diagonal mass
        matrix; with 0, ``step_size`` is used as given.
    num_chains
        Chains, run in parallel when there are enough devices, else vectorised.
    init_params
        Starting point per site; else the prior median.
    progress_bar
        Show NumPyro's progress bar.

    Returns
    -------
    numpyro.infer.MCMC
        The finished run, with :data:`~psyphy_numpyro.mcmc.SAMPLE_STATS_FIELDS`.
    """
    num_samples = check.positive_int("num_samples", num_samples)
    step_size = check.positive("step_size", step_size)
    num_warmup = check.positive_int("num_warmup", num_warmup, minimum=0)
    num_chains = check.positive_int("num_chains", num_chains)
    adapt = num_warmup > 0
    init_fn = (
        init_to_median if init_params is None else init_to_value(values=init_params)
    )
    kernel = HMC(
        model,
        step_size=step_size,
        num_steps=1,
        trajectory_length=None,
        adapt_step_size=adapt,
        adapt_mass_matrix=adapt,
        target_accept_prob=MALA_TARGET_ACCEPT,
        init_strategy=init_fn,
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
    mcmc.run(rng_key, *model_args, extra_fields=SAMPLE_STATS_FIELDS, **model_kwargs)
    return mcmc


class LangevinPosterior(NUTSPosterior):
    """Draws from :class:`LangevinSampler` (the same interface as NUTS's).

    Attributes
    ----------
    temperature
        The temperature the chain ran at (1 is the posterior).
    accept_rate
        Mean Metropolis acceptance probability after warm-up.

    See :class:`~psyphy_numpyro.NUTSPosterior` for ``params``, ``samples``,
    ``sample`` and ``to_inference_data``; ``log_likelihood`` there is the
    untempered per-trial likelihood, while ``sample_stats.lp`` is tempered.
    """

    def __init__(
        self,
        mcmc: MCMC,
        model: Any,
        trials: Trials,
        model_kwargs: dict | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(mcmc, model, trials, model_kwargs)
        self.temperature = temperature
        self.accept_rate = float(np.mean(mcmc.get_extra_fields()["accept_prob"]))

    def __repr__(self) -> str:
        chains, draws = self.mcmc.num_chains, self.mcmc.num_samples
        return (
            f"LangevinPosterior(chains={chains}, draws={draws}, "
            f"accept_rate={self.accept_rate:.3f}, temperature={self.temperature})"
        )


class LangevinSampler:
    r"""psyphy's Langevin sampler: a Metropolis-adjusted Langevin chain (MALA).

    Parameters
    ----------
    steps
        Kept Langevin steps per chain.
    step_size
        Leapfrog step size :math:`\epsilon`: each proposal moves
        :math:`\tfrac{\epsilon^2}{2}\nabla\log\pi + \epsilon\,\xi`,
        :math:`\xi \sim \mathcal N(0, I)` (see :mod:`psyphy_numpyro.langevin`).
    temperature
        The chain targets :math:`\pi(\theta)^{1/T}`, i.e. the potential
        (negative log posterior, prior included) divided by :math:`T`. ``1``
        samples the posterior; ``T > 1`` flattens it (wider, for exploring),
        ``T < 1`` sharpens it towards the MAP.
    num_warmup
        Warm-up steps that adapt the step size and a diagonal mass matrix
        (0, the default, keeps ``step_size`` as given, as psyphy's signature
        implies; psyphy's default ``step_size=1e-3`` mixes slowly, so set
        ``num_warmup`` or a larger ``step_size``).
    num_chains
        Number of chains.
    seed
        Seed of the chains; for the full WPPM also of the fixed Monte Carlo
        draws (the same as :class:`~psyphy_numpyro.NUTSSampler`'s).
    progress_bar
        Show NumPyro's progress bar.

    Examples
    --------
    >>> sampler = LangevinSampler(steps=2000, step_size=0.1, num_warmup=500)
    """

    def __init__(
        self,
        steps: int = 1000,
        step_size: float = 1e-3,
        temperature: float = 1.0,
        *,
        num_warmup: int = 0,
        num_chains: int = 1,
        seed: int = 0,
        progress_bar: bool = True,
    ) -> None:
        self.steps = check.positive_int("steps", steps)
        self.step_size = check.positive("step_size", step_size)
        self.temperature = check.positive("temperature", temperature)
        self.num_warmup = check.positive_int("num_warmup", num_warmup, minimum=0)
        self.num_chains = check.positive_int("num_chains", num_chains)
        self.seed = check.positive_int("seed", seed, minimum=0)
        self.progress_bar = bool(progress_bar)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> LangevinPosterior:
        """Sample the (tempered) posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting point: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: the prior median.
        """
        model = _check_model(model)
        trials = model.trials(data)
        if init_params is not None and hasattr(init_params, "params"):
            init_params = init_params.params
        if init_params is not None:
            init_params = model.prior.check_params(init_params, "init_params")
        key_chains, _ = jax.random.split(jax.random.PRNGKey(self.seed))
        model_kwargs = _fixed_density_kwargs(model, trials, self.seed)
        numpyro_model = model.numpyro_model
        if self.temperature != 1.0:
            numpyro_model = numpyro.handlers.scale(
                numpyro_model, scale=1.0 / self.temperature
            )
        mcmc = run_mala(
            key_chains,
            numpyro_model,
            *trials,  # ref, probe, responses
            num_samples=self.steps,
            step_size=self.step_size,
            num_warmup=self.num_warmup,
            num_chains=self.num_chains,
            init_params=init_params,
            progress_bar=self.progress_bar,
            **model_kwargs,
        )
        posterior = LangevinPosterior(
            mcmc, model, trials, model_kwargs, self.temperature
        )
        if posterior.accept_rate < 0.1:
            warnings.warn(
                f"the Langevin chain accepted {posterior.accept_rate:.1%} of its "
                "proposals; its draws barely move. Use a smaller step_size or set "
                "num_warmup to adapt it.",
                RuntimeWarning,
                stacklevel=2,
            )
        return posterior


class NumpyroSampler(NUTSSampler):
    """psyphy's ``NumpyroSampler``: NUTS, with ``steps`` draws per chain.

    ``NumpyroSampler(steps)`` is :class:`~psyphy_numpyro.NUTSSampler` with
    ``num_samples=steps`` (and, unless given, ``num_warmup=steps``); the other
    keywords are NUTSSampler's.

    Examples
    --------
    >>> sampler = NumpyroSampler(1000, num_chains=4)
    >>> sampler.num_samples, sampler.num_warmup
    (1000, 1000)
    """

    def __init__(self, steps: int = 1000, *, num_warmup: int | None = None,
                 **kwargs: Any) -> None:
        steps = check.positive_int("steps", steps)
        if num_warmup is None:
            num_warmup = steps
        super().__init__(num_warmup=num_warmup, num_samples=steps, **kwargs)
        self.steps = steps
