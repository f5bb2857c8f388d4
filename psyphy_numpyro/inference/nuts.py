"""``NUTSSampler``: full posteriors with NUTS (psyphy has no sampler of its own)."""

from __future__ import annotations

import warnings
from typing import Any

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.gauge import gauge_fixed_model, principal_frame
from psyphy_numpyro.core.infer.mcmc import gauge_fixed_starts, rotated_starts, run_nuts
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.posterior.mcmc import NUTSPosterior


class NUTSSampler(InferenceEngine):
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
        (:func:`~psyphy_numpyro.core.gauge.gauge_fixed_model`). Every
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
        self._keep_run_settings(seed=seed, progress_bar=progress_bar,
                                num_chains=num_chains, num_warmup=num_warmup)
        self.num_samples = check.positive_int("num_samples", num_samples)
        self.target_accept_prob = check.open_unit_interval(
            "target_accept_prob", target_accept_prob
        )
        self.dense_mass = bool(dense_mass)

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
        model, trials, init_params, keys, model_kwargs = self._fit_inputs(
            model, data, init_params)
        numpyro_model, chain_init = model.numpyro_model, None
        if self.fix_rotations and model.is_mvp:
            raise ValueError("fix_rotations=True needs the full WPPM: the MVP has no "
                             "rotation symmetry.")
        if self.fix_rotations:
            # the block: the principal axes of the start, pooling every row
            frame = (None if init_params is None else
                     principal_frame(init_params["W"], model.prior.stddev()))
            numpyro_model = gauge_fixed_model(model, frame)
            chain_init = {"W_free": gauge_fixed_starts(model, init_params, keys.starts,
                                                        self.num_chains, frame)}
            init_params = None
        elif init_params is not None and not model.is_mvp and self.num_chains > 1:
            # the chains start at the same density but apart, turned along
            # the embedding symmetry, so R-hat compares separate starts
            chain_init = {"W": rotated_starts(init_params["W"], keys.starts,
                                              self.num_chains)}
            init_params = None
        mcmc = run_nuts(
            keys.run,
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
        posterior = NUTSPosterior.from_mcmc(mcmc, model, trials, model_kwargs)
        if posterior.num_divergences:
            warnings.warn(
                f"NUTS had {posterior.num_divergences} divergent transition(s) after "
                "warm-up; the posterior may be biased. Try target_accept_prob=0.95.",
                RuntimeWarning,
                stacklevel=2,
            )
        return posterior
