"""psyphy's ``LangevinSampler`` (MALA) and ``NumpyroSampler`` (NUTS under psyphy's name)."""

from __future__ import annotations

import warnings
from typing import Any

import numpyro

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import fixed_density_model
from psyphy_numpyro.core.infer.mala import run_mala
from psyphy_numpyro.core.infer.progress import MALA_GRADIENTS
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.inference.nuts import NUTSSampler, announce_run
from psyphy_numpyro.posterior.langevin import LangevinPosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior as MAPPosterior  # as psyphy


class LangevinSampler(InferenceEngine):
    r"""psyphy's Langevin sampler: a Metropolis-adjusted Langevin chain (MALA).

    Parameters
    ----------
    steps
        Kept Langevin steps per chain.
    step_size
        Leapfrog step size :math:`\epsilon`: each proposal moves
        :math:`\tfrac{\epsilon^2}{2}\nabla\log\pi + \epsilon\,\xi`,
        :math:`\xi \sim \mathcal N(0, I)` (see :mod:`psyphy_numpyro.inference.langevin`).
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
    num_chains, seed, progress_bar
        As in :class:`~psyphy_numpyro.NUTSSampler` (the same seed gives the
        full WPPM's Monte Carlo rule the same fixed draws; the estimator is
        settled, and the run's duration estimated, as NUTSSampler does it).

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
        self.steps = check.iterations("steps", steps)
        self.step_size = check.positive("step_size", step_size)
        self.temperature = check.positive("temperature", temperature)
        self._keep_run_settings(seed=seed, progress_bar=progress_bar,
                                num_chains=num_chains, num_warmup=num_warmup)
        check.iterations("num_warmup + steps", self.num_warmup + self.steps)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> LangevinPosterior:
        """Sample the (tempered) posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting point: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: the prior median.
        """
        given = check.wppm(model)
        model, trials, init_params, keys, model_kwargs = self._fit_inputs(
            fixed_density_model(given), data, init_params)
        numpyro_model = model.numpyro_model
        if self.temperature != 1.0:
            numpyro_model = numpyro.handlers.scale(
                numpyro_model, scale=1.0 / self.temperature
            )
        announce_run("LangevinSampler", model, model is not given, numpyro_model,
                     tuple(trials), model_kwargs, num_chains=self.num_chains,
                     iterations=self.num_warmup + self.steps, gradients=MALA_GRADIENTS,
                     progress=self.progress_bar, rng_key=keys.init)
        mcmc = run_mala(
            keys.run,
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
        posterior = LangevinPosterior.from_mcmc(
            mcmc, model, trials, model_kwargs, temperature=self.temperature
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
        steps = check.iterations("steps", steps)
        if num_warmup is None:
            num_warmup = steps
        super().__init__(num_warmup=num_warmup, num_samples=steps, **kwargs)
        self.steps = steps
