"""``NUTSSampler``: full posteriors with NUTS (psyphy has no sampler of its own).

On the full WPPM a sampler first settles how p(correct) is computed (with
the estimator unset, the deterministic ``"quadrature"`` rule where it
applies; :func:`~psyphy_numpyro.core.infer.inputs.fixed_density_model`) and
then, before sampling, says how long the run should take
(:func:`announce_run`), warning when a Monte Carlo estimator makes it slow.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import jax

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.gauge import can_fix_rotation, gauge_fixed_model, principal_frame
from psyphy_numpyro.core.infer.inputs import estimator_note, fixed_density_model
from psyphy_numpyro.core.infer.mcmc import (
    check_stopping,
    gauge_fixed_starts,
    rotated_starts,
    run_nuts,
    run_nuts_until,
)
from psyphy_numpyro.core.infer.progress import (
    NUTS_GRADIENTS,
    RunEstimate,
    say,
    time_gradient,
)
from psyphy_numpyro.core.infer.laplace_basis import laplace_chains
from psyphy_numpyro.core.lapse import lapse_chain_starts, unconstrain_lapse
from psyphy_numpyro.core.readouts import covariance_entries, reference_grid
from psyphy_numpyro.core.spec import quadrature_misfit
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.posterior.mcmc import NUTSPosterior

#: What ``NUTSSampler(precondition=...)`` accepts.
PRECONDITIONS = (None, "laplace")
#: What ``NUTSSampler(watch=...)`` accepts.
WATCHES = ("parameters", "field")

#: Seconds beyond which a run with a Monte Carlo estimator warns even when no
#: deterministic rule applies to the model.
LONG_RUN_SECONDS = 600.0


def announce_run(fitter: str, model: Any, switched: bool, numpyro_model: Any,
                 model_args: tuple, model_kwargs: dict, *, num_chains: int,
                 iterations: int, gradients: tuple[int, int, int],
                 progress: bool, rng_key: jax.Array,
                 stops_early: bool = False) -> RunEstimate | None:
    """Before an MCMC run of the full WPPM: its estimated duration, said and warned.

    With ``progress``, one line on stderr gives the estimate
    (:class:`~psyphy_numpyro.core.infer.progress.RunEstimate`, from the timed
    gradient of ``numpyro_model``) and the estimator. With a Monte Carlo
    estimator a ``UserWarning`` gives the estimate and what to change, when
    ``"quadrature"`` would apply (the Monte Carlo rule was chosen explicitly)
    or the run should take over :data:`LONG_RUN_SECONDS`. Nothing is timed for
    the MVP, or without progress output for a deterministic estimator. With
    ``stops_early`` (an ESS bar may end the run sooner) ``iterations`` is the
    most the run takes, and the line says so.
    """
    monte_carlo = not model.is_mvp and model.needs_draws
    if model.is_mvp or not (progress or monte_carlo):
        return None
    # vectorised chains evaluate every chain's gradient at once, parallel ones one each
    together = 1 if jax.local_device_count() >= num_chains else num_chains
    seconds = time_gradient(rng_key, numpyro_model, model_args, model_kwargs, together)
    estimate = RunEstimate(seconds, iterations, gradients)
    num_trials = int(model_args[0].shape[0])
    if progress:
        most = "up to " if stops_early else ""
        say(f"{fitter}: {num_chains} chain(s) x {most}{iterations} iterations on "
            f"{num_trials} trials, {estimator_note(model, switched)}: {estimate.describe()}.")
    config = model.task.config
    misfit = quadrature_misfit(model.prior, model.noise, config.bandwidth)
    if monte_carlo and (misfit is None or estimate.seconds[1] > LONG_RUN_SECONDS):
        if misfit is None:
            fix = ('estimator="quadrature" applies to this model, deterministic and '
                   "faster: pass OddityTaskConfig(estimator=\"quadrature\"), or leave "
                   "estimator unset.")
        else:
            fix = (f"No deterministic rule applies ({misfit}); fewer draws per trial "
                   "(num_samples), trials or iterations shorten it.")
        check.warn(
            f"{fitter} on the full WPPM with Monte Carlo p(correct) (estimator="
            f"{model.estimator!r}, {config.num_samples} fixed draws per trial, a "
            f"rough density for a gradient sampler): {num_chains} chain(s) x "
            f"{iterations} iterations, {estimate.describe()}. {fix}"
        )
    return estimate


class NUTSSampler(InferenceEngine):
    r"""Sample a WPPM's posterior with NUTS.

    Parameters
    ----------
    num_warmup, num_samples, num_chains
        Iterations per chain and number of chains; with ``min_ess``,
        ``num_samples`` is the most kept draws per chain.
    seed
        Seed of the chains' random key.
    target_accept_prob, dense_mass
        NUTS settings.
    progress_bar
        Show NumPyro's progress bar, started after compilation; for the full
        WPPM, first a line with the run's estimated duration.
    fix_rotations
        Full WPPM: sample ``W`` with its embedding rotation fixed
        (:func:`~psyphy_numpyro.core.gauge.gauge_fixed_model`). Every
        rotation-invariant readout has the same posterior, ``W``'s entries are
        identified, and NUTS no longer wanders along the rotations, which
        makes its trajectories much shorter. ``None`` (default): True for the
        full WPPM when ``W`` has at least ``embedding_dim`` rows (basis degree
        1 or more), otherwise False; False for the MVP, which has no rotations.
    min_ess, max_rhat, check_every
        With ``min_ess``, sampling stops once every sampled entry has a bulk
        ESS of at least ``min_ess`` and an R-hat of at most ``max_rhat``,
        checked every ``check_every`` draws per chain (a divisor of
        ``num_samples``; :func:`~psyphy_numpyro.core.infer.mcmc.run_nuts_until`),
        and warns if ``num_samples`` draws per chain did not get there. The
        draws are those of a run of fixed length that ends at the stop. Needs
        2 chains or more, and for the full WPPM with ``watch="parameters"``
        the rotation fixed (``W``'s entries are identified only then).
        Default None: ``num_samples`` draws.
    watch
        What ``min_ess`` and ``max_rhat`` apply to: ``"parameters"``
        (default), every sampled entry; ``"field"``, the distinct entries of
        :math:`\Sigma(x)` at :func:`~psyphy_numpyro.core.readouts.reference_grid`'s
        5 points per dimension, what threshold readouts are made of
        (rotation-invariant, so any ``fix_rotations`` will do).
    precondition
        ``"laplace"``: sample in the eigenbasis of the Laplace approximation
        at the mode (found by L-BFGS from ``init_params``, which it needs), a
        linear change of coordinates that leaves the posterior unchanged
        (:mod:`~psyphy_numpyro.core.infer.laplace_basis`); the chains start
        at draws from that approximation. Far fewer leapfrog steps per
        iteration on the full WPPM with the rotation fixed (which it needs),
        for the price of a Hessian. Default None: NumPyro's own coordinates.

    Notes
    -----
    For the full WPPM with the estimator unset
    (``OddityTaskConfig(estimator=None)``, the default), p(correct) is
    computed by the deterministic ``"quadrature"`` rule where it applies
    (input_dim 2, Gaussian noise); the posterior's ``model`` carries that
    choice. A Monte Carlo estimator chosen explicitly is kept, with a warning
    that gives the estimated run time.

    Examples
    --------
    >>> sampler = NUTSSampler(num_warmup=500, num_samples=1000, num_chains=4)
    >>> until = NUTSSampler(num_samples=2000, min_ess=400)  # stops at ESS 400
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
        fix_rotations: bool | None = None,
        min_ess: float | None = None,
        max_rhat: float = 1.01,
        check_every: int = 100,
        precondition: str | None = None,
        watch: str = "parameters",
    ) -> None:
        if not (precondition is None or isinstance(precondition, str)
                and precondition in PRECONDITIONS):
            raise ValueError(f"precondition must be one of {PRECONDITIONS}, got "
                             f"{precondition!r}.")
        self.precondition = precondition
        if not (isinstance(watch, str) and watch in WATCHES):
            raise ValueError(f"watch must be one of {WATCHES}, got {watch!r}.")
        if watch != "parameters" and min_ess is None:
            raise ValueError(f"watch={watch!r} names what min_ess applies to; set "
                             "min_ess too.")
        self.watch = watch
        self.fix_rotations = None if fix_rotations is None else bool(fix_rotations)
        self._keep_run_settings(seed=seed, progress_bar=progress_bar,
                                num_chains=num_chains, num_warmup=num_warmup)
        self.num_samples = check.iterations("num_samples", num_samples)
        check.iterations("num_warmup + num_samples", self.num_warmup + num_samples)
        self.target_accept_prob = check.open_unit_interval(
            "target_accept_prob", target_accept_prob
        )
        self.dense_mass = bool(dense_mass)
        self.min_ess, self.max_rhat, self.check_every = min_ess, max_rhat, check_every
        if min_ess is not None:
            self.min_ess, self.max_rhat, self.check_every = check_stopping(
                min_ess, max_rhat, check_every, self.num_samples, self.num_chains,
                "num_samples")

    def fit(self, model: Any, data: Any, init_params: Any = None) -> NUTSPosterior:
        """Sample the posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting point: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: the prior median. For the full WPPM
            (rotations fixed by default), chains start at the fit and copies
            jittered by a tenth of the prior sd, or, without ``init_params``,
            at prior draws; with ``fix_rotations=False`` and several chains,
            chain ``c > 0`` starts at ``W`` turned by a random rotation of the
            embedding (:func:`rotated_starts`): the same density, a different
            point.
        """
        given = check.wppm(model)
        if self.fix_rotations and given.is_mvp:
            raise ValueError("fix_rotations=True needs the full WPPM: the MVP has no "
                             "rotation symmetry.")
        fix_rotations = (can_fix_rotation(given.prior) if self.fix_rotations is None
                         else self.fix_rotations)
        if (self.min_ess is not None and self.watch == "parameters"
                and not given.is_mvp and not fix_rotations):
            raise ValueError("min_ess needs the full WPPM's rotation fixed "
                             "(fix_rotations=True) or watch='field': with the rotation "
                             "free, W's entries are not identified and never reach an "
                             "ESS bar.")
        if self.precondition == "laplace":
            if init_params is None:
                raise ValueError('precondition="laplace" needs init_params (e.g. a MAP '
                                 "fit): the Laplace approximation is taken at its mode.")
            if not given.is_mvp and not fix_rotations:
                raise ValueError('precondition="laplace" needs the full WPPM\'s rotation '
                                 "fixed (fix_rotations=True): along the rotations the "
                                 "Hessian is singular.")
        model, trials, init_params, keys, model_kwargs = self._fit_inputs(
            fixed_density_model(given), data, init_params)
        numpyro_model, chain_init = model.numpyro_model, None
        if fix_rotations:
            # the block: the principal axes of the start, pooling every row
            frame = (None if init_params is None else
                     principal_frame(init_params["W"], model.prior.stddev()))
            numpyro_model = gauge_fixed_model(model, frame)
            chain_init = {"W_free": gauge_fixed_starts(model, init_params, keys.starts,
                                                        self.num_chains, frame),
                          **lapse_chain_starts(model, init_params, self.num_chains)}
            init_params = None
        elif init_params is not None and not model.is_mvp and self.num_chains > 1:
            # the chains start at the same density but apart, turned along
            # the embedding symmetry, so R-hat compares separate starts
            chain_init = {"W": rotated_starts(init_params["W"], keys.starts,
                                              self.num_chains),
                          **lapse_chain_starts(model, init_params, self.num_chains)}
            init_params = None
        if self.precondition == "laplace":
            site = "W_free" if fix_rotations else model.prior.site
            start = ({name: value[0] for name, value in chain_init.items()}
                     if fix_rotations else unconstrain_lapse(model, init_params))
            numpyro_model, chain_init = self._laplace_chains(
                numpyro_model, site, start, keys.starts, tuple(trials), model_kwargs)
            init_params = None
        announce_run("NUTSSampler", model, model is not given, numpyro_model,
                     tuple(trials), model_kwargs, num_chains=self.num_chains,
                     iterations=self.num_warmup + self.num_samples,
                     gradients=NUTS_GRADIENTS, progress=self.progress_bar,
                     rng_key=keys.init, stops_early=self.min_ess is not None)
        run = dict(num_warmup=self.num_warmup, num_chains=self.num_chains,
                   init_params=init_params, chain_init_params=chain_init,
                   target_accept_prob=self.target_accept_prob, dense_mass=self.dense_mass,
                   progress_bar=self.progress_bar, **model_kwargs)
        if self.min_ess is None:
            mcmc = run_nuts(keys.run, numpyro_model, *trials,  # ref, probe, responses
                            num_samples=self.num_samples, **run)
            posterior = NUTSPosterior.from_mcmc(mcmc, model, trials, model_kwargs)
        else:
            watch = None
            if self.watch == "field":
                grid = reference_grid(5, input_dim=model.input_dim)
                watch = lambda draws: covariance_entries(model, draws, grid)  # noqa: E731
            stopped = run_nuts_until(keys.run, numpyro_model, *trials,
                                     min_ess=self.min_ess, max_rhat=self.max_rhat,
                                     check_every=self.check_every,
                                     max_samples=self.num_samples, watch=watch, **run)
            posterior = NUTSPosterior(stopped.draws, stopped.extra_fields, model, trials,
                                      model_kwargs)
            if not stopped.met:
                reached = stopped.convergence
                warnings.warn(
                    f"NUTS kept num_samples={self.num_samples} draws per chain without "
                    f"reaching min_ess={self.min_ess:g} and max_rhat={self.max_rhat:g} "
                    f"on the {self.watch} "
                    f"(least bulk ESS {reached.least_ess:.0f}, largest R-hat "
                    f"{reached.largest_rhat:.3f}); raise num_samples to run longer.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if posterior.num_divergences:
            warnings.warn(
                f"NUTS had {posterior.num_divergences} divergent transition(s) after "
                "warm-up; the posterior may be biased. Try target_accept_prob=0.95.",
                RuntimeWarning,
                stacklevel=2,
            )
        return posterior

    def _laplace_chains(self, numpyro_model: Any, site: str, start: dict, key: jax.Array,
                        model_args: tuple, model_kwargs: dict) -> tuple[Any, dict]:
        """The model in the Laplace eigenbasis and its chains' starts (a line on stderr)."""
        clock = time.perf_counter()
        found = laplace_chains(numpyro_model, site, start, key, self.num_chains,
                               model_args, model_kwargs)
        if found is None:
            raise ValueError(
                'precondition="laplace": the Hessian at the mode near init_params is not '
                "positive definite, so there is no Laplace approximation to take a basis "
                "from; fit the MAP longer, or leave precondition unset.")
        if self.progress_bar:
            say(f"NUTSSampler: Laplace basis at the mode in "
                f"{time.perf_counter() - clock:.0f} s")
        return found
