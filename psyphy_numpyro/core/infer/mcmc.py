"""Full posteriors with NUTS, on the same NumPyro model the MAP fit uses.

:func:`run_nuts` is the functional core (it returns NumPyro's ``MCMC``);
:class:`NUTSSampler` is the psyphy-style interface and returns a
:class:`NUTSPosterior` that converts to ArviZ.
"""

from __future__ import annotations

import contextlib
import copy
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_median, init_to_value

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.gauge import to_free
from psyphy_numpyro.core.idata import Convergence, convergence
from psyphy_numpyro.core.infer.map import shape_signature
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
        The finished run, with :data:`SAMPLE_STATS_FIELDS` recorded. Runs of
        the same model and settings share one compiled sampler
        (:func:`run_kernel`), so repeated fits neither compile nor grow memory.
    """
    num_warmup, num_samples, num_chains = check_run_lengths(num_warmup, num_samples,
                                                            num_chains)
    settings = _nuts_settings(target_accept_prob, dense_mass)
    if chain_init_params is not None:
        for site, value in chain_init_params.items():
            if jnp.shape(value)[:1] != (num_chains,):
                raise ValueError(
                    f"chain_init_params[{site!r}] needs a leading axis of num_chains "
                    f"= {num_chains}, got shape {jnp.shape(value)}."
                )
        if num_chains == 1:  # NumPyro takes one chain's start without the axis
            chain_init_params = jax.tree.map(lambda x: x[0], chain_init_params)
    return run_kernel(rng_key, NUTS, model, settings, model_args, model_kwargs,
                      init_params=init_params, num_warmup=num_warmup,
                      num_samples=num_samples, num_chains=num_chains,
                      progress_bar=progress_bar, chain_init_params=chain_init_params)


def _nuts_settings(target_accept_prob: Any, dense_mass: Any) -> dict:
    """NUTS's checked settings, as ``numpyro.infer.NUTS`` takes them."""
    return {"target_accept_prob": check.open_unit_interval("target_accept_prob",
                                                           target_accept_prob),
            "dense_mass": bool(dense_mass)}


def check_run_lengths(num_warmup: Any, num_samples: Any, num_chains: Any
                      ) -> tuple[int, int, int]:
    """Checked warm-up length (>= 0), kept draws and chains (>= 1) of a run."""
    num_warmup = check.iterations("num_warmup", num_warmup, minimum=0)
    num_samples = check.iterations("num_samples", num_samples)
    check.iterations("num_warmup + num_samples", num_warmup + num_samples)
    return num_warmup, num_samples, check.positive_int("num_chains", num_chains)


class StoppedRun(NamedTuple):
    """The draws of :func:`run_nuts_until`, and how well they had mixed at the stop."""

    #: Every recorded site by chain, ``{site: (num_chains, num_draws, ...)}``.
    draws: dict
    #: :data:`SAMPLE_STATS_FIELDS` by chain, ``(num_chains, num_draws)``.
    extra_fields: dict
    #: Least bulk ESS and largest R-hat over the moving entries the bars watched.
    convergence: Convergence
    #: Whether ``convergence`` met the bars (False: it stopped at ``max_samples``).
    met: bool


def run_nuts_until(
    rng_key: jax.Array,
    model: Callable[..., None],
    *model_args: Any,
    min_ess: float,
    max_rhat: float = 1.01,
    check_every: int = 100,
    num_warmup: int,
    max_samples: int,
    num_chains: int = 4,
    init_params: dict | None = None,
    chain_init_params: dict | None = None,
    target_accept_prob: float = 0.8,
    dense_mass: bool = False,
    progress_bar: bool = True,
    watch: Callable[[dict], Mapping[str, Any]] | None = None,
    **model_kwargs: Any,
) -> StoppedRun:
    """Sample with NUTS until every entry reaches a bulk ESS and R-hat bar.

    The run is :func:`run_nuts` with ``check_every`` kept draws per chain,
    continued (warm-up done, the same adapted step size and mass matrix) in
    blocks of ``check_every`` draws until the least bulk ESS over every
    moving entry of every recorded site (or of what ``watch`` makes of
    them) is at least ``min_ess`` and the
    largest R-hat at most ``max_rhat`` (:func:`~psyphy_numpyro.core.idata.convergence`),
    or ``max_samples`` draws per chain are kept. The draws are those of one
    uninterrupted run of the same length. Only identified sites should be
    recorded: a site the posterior does not pin down (the full WPPM's ``W``
    with its rotation free) never mixes and runs to ``max_samples``. The
    parameters not listed below are :func:`run_nuts`'s; with ``progress_bar``,
    a line on stderr after each check says where the figures stand.

    Parameters
    ----------
    min_ess, max_rhat
        The bars (ESS over all chains' draws).
    check_every
        Kept draws per chain between checks (at least 4); a divisor of
        ``max_samples``.
    num_warmup, max_samples
        Warm-up iterations and the most kept draws per chain.
    num_chains
        At least 2: R-hat compares chains.
    watch
        The quantities the bars apply to, as a function of the draws so far
        (each site ``(num_chains, num_draws, ...)``) returning arrays of the
        same leading shape, e.g. a covariance field
        (:func:`~psyphy_numpyro.core.readouts.covariance_entries`). Default
        None: the draws themselves.
    """
    if watch is not None and not callable(watch):
        raise TypeError(f"watch must be a function of the draws or None, got "
                        f"{type(watch).__name__}.")
    min_ess, max_rhat, check_every = check_stopping(min_ess, max_rhat, check_every,
                                                     max_samples, num_chains)
    mcmc = run_nuts(rng_key, model, *model_args, num_warmup=num_warmup,
                    num_samples=check_every, num_chains=num_chains,
                    init_params=init_params, chain_init_params=chain_init_params,
                    target_accept_prob=target_accept_prob, dense_mass=dense_mass,
                    progress_bar=progress_bar, **model_kwargs)
    settings = _nuts_settings(target_accept_prob, dense_mass)
    blocks = []
    while True:
        fields = mcmc.get_extra_fields(group_by_chain=True)
        blocks.append((mcmc.get_samples(group_by_chain=True),
                       {name: fields[name] for name in SAMPLE_STATS_FIELDS}))
        draws, fields = (jax.tree.map(lambda *x: np.concatenate(x, axis=1), *part)
                         for part in zip(*blocks))
        reached = convergence(draws if watch is None else watch(draws))
        met = reached.meets(min_ess, max_rhat)
        kept = len(blocks) * check_every
        if progress_bar:
            say(f"NUTS: {kept} draws per chain, least bulk ESS {reached.least_ess:.0f}, "
                f"largest R-hat {reached.largest_rhat:.3f}: "
                + ("done" if met else "stopping at max_samples" if kept >= max_samples
                   else "continuing"))
        if met or kept >= max_samples:
            return StoppedRun(draws, fields, reached, met)
        state = mcmc.last_state
        mcmc = run_kernel(state.rng_key, NUTS, model, settings, model_args, model_kwargs,
                          init_params=None, num_warmup=num_warmup,
                          num_samples=check_every, num_chains=num_chains,
                          progress_bar=progress_bar, post_warmup_state=state)


def check_stopping(min_ess: Any, max_rhat: Any, check_every: Any, max_samples: Any,
                   num_chains: Any, samples_name: str = "max_samples"
                   ) -> tuple[float, float, int]:
    """Checked bars and check interval of :func:`run_nuts_until`.

    ``samples_name`` names ``max_samples`` in the errors (``NUTSSampler``'s
    ``num_samples``).
    """
    min_ess = check.positive("min_ess", min_ess)
    max_rhat = check.positive("max_rhat", max_rhat)
    if max_rhat <= 1.0:
        raise ValueError(f"max_rhat must be above 1, got {max_rhat}.")
    # ArviZ's ESS and R-hat need 2 chains of 4 draws at least
    check_every = check.positive_int("check_every", check_every, minimum=4)
    if check.iterations(samples_name, max_samples) % check_every:
        raise ValueError(f"{samples_name} ({max_samples}) must be a multiple of "
                         f"check_every ({check_every}).")
    if check.positive_int("num_chains", num_chains) < 2:
        raise ValueError(f"A run to an R-hat bar needs num_chains >= 2 (R-hat compares "
                         f"chains), got {num_chains}.")
    return min_ess, max_rhat, check_every


def init_strategy(init_params: dict | None) -> Any:
    """NumPyro's start: the prior median, or ``init_params`` when given."""
    return init_to_median if init_params is None else init_to_value(values=init_params)


class _Kept(NamedTuple):
    key: tuple
    mcmc: MCMC
    signatures: set  # shapes of the model arguments it has compiled for
    lock: threading.Lock  # held while it runs; another thread makes its own
    bars: bool  # NumPyro shows bars here (it hides them when CI is set)


#: MCMC objects kept for reuse by :func:`run_kernel`, the most recent last.
_KEPT: OrderedDict = OrderedDict()
#: How many; NumPyro keeps the compiled loops of its 8 most recent MCMC objects.
_MAX_KEPT = 8


def clear_samplers() -> None:
    """Forget the kept MCMC objects (the next run of each model compiles again)."""
    _KEPT.clear()


def run_kernel(rng_key: jax.Array, kernel_type: type, model: Callable[..., None],
               settings: dict, model_args: tuple, model_kwargs: dict, *,
               init_params: dict | None, num_warmup: int, num_samples: int,
               num_chains: int, progress_bar: bool,
               chain_init_params: dict | None = None,
               post_warmup_state: Any = None) -> MCMC:
    """Run ``kernel_type(model, **settings)`` with this package's chain policy.

    Chains run in parallel when there are enough devices and vectorised
    otherwise; :data:`SAMPLE_STATS_FIELDS` are always recorded. With the
    progress bar on, one chain or vectorised chains are compiled before the
    bar opens (:func:`compile_mcmc`), so its rate and remaining time are the
    iterations'; parallel chains keep NumPyro's bars, which say ``Compiling``
    until their first iteration.

    A run of the same model (the same function, or a ``functools.partial`` of
    one with equal hashable arguments, such as a WPPM's ``numpyro_model``),
    kernel settings, run lengths and chains as one of the 8 runs before
    reuses that run's MCMC object and compiled sampler (:func:`kept_mcmc`);
    data and starts may differ. Returns an MCMC object of its own.

    With ``post_warmup_state`` (a run's ``last_state``) the run continues
    from it, without warm-up, for ``num_samples`` more draws.
    """
    parallel = jax.local_device_count() >= num_chains
    chain_method = "parallel" if parallel else "vectorized"
    lengths = {"num_warmup": num_warmup, "num_samples": num_samples,
               "num_chains": num_chains, "chain_method": chain_method}
    kept = kept_mcmc(kernel_type, model, settings, lengths, model_args, model_kwargs)
    if kept is not None and not kept.lock.acquire(blocking=False):
        kept = None  # running in another thread
    if kept is None:
        mcmc = MCMC(kernel_type(model, init_strategy=init_strategy(init_params), **settings),
                    progress_bar=progress_bar, **lengths)
        compiled = False
    else:
        mcmc = kept.mcmc
        progress_bar = progress_bar and kept.bars
        mcmc.sampler._init_strategy = init_strategy(init_params)
        # NumPyro wraps the step of vectorised chains in one more vmap at each
        # init, which breaks the next shape it compiles: start from an unwrapped one
        mcmc.sampler._init_fn = None
        signature = shape_signature((model_args, model_kwargs))
        compiled = signature in kept.signatures
        kept.signatures.add(signature)
    run_args = dict(extra_fields=SAMPLE_STATS_FIELDS, init_params=chain_init_params,
                    **model_kwargs)
    mcmc.post_warmup_state = post_warmup_state
    try:
        if (progress_bar and not compiled and post_warmup_state is None
                and (num_chains == 1 or not parallel)):
            compile_mcmc(mcmc, rng_key, *model_args, **run_args)
        with contextlib.nullcontext() if progress_bar else _without_bar():
            mcmc.run(rng_key, *model_args, **run_args)
    except BaseException:
        if kept is not None:  # an interrupted run leaves it half set up
            _KEPT.pop(kept.key, None)
        raise
    finally:
        if kept is not None:
            # its initial states are keyed by the ids of this run's arguments
            mcmc._init_state_cache.clear()
            mcmc.post_warmup_state = None
            kept.lock.release()
    if kept is None:
        return mcmc
    run = copy.copy(mcmc)  # this run's draws; the kept object forgets them
    run._collection_params = dict(mcmc._collection_params)
    mcmc._states = mcmc._states_flat = mcmc._last_state = None
    mcmc._args, mcmc._kwargs = (), {}
    return run


def kept_mcmc(kernel_type: type, model: Callable[..., None], settings: dict,
              lengths: dict, model_args: tuple, model_kwargs: dict) -> _Kept | None:
    """The kept MCMC object for these settings, made and kept if new; None if not reusable.

    NumPyro recompiles its sampler at every ``MCMC.run`` without a progress
    bar and keeps every compiled program, with the run's MCMC object, for
    the life of the process (about 14 MB per small NUTS run): its loop passes
    a freshly ``jax.jit``-wrapped step as a static argument to a module-level
    ``jax.jit`` function, so no two runs share a cache key. One MCMC object
    with ``jit_model_args=True``, run through NumPyro's per-iteration loop
    (its progress-bar loop, its output discarded when no bar is wanted),
    compiles once per argument shape instead. It is
    reusable when every model argument is an array (they become traced
    inputs), the model is recognised across runs (:func:`model_identity`),
    and chains are one or vectorised.
    """
    arrays = all(isinstance(leaf, (jax.Array, np.ndarray))
                 for leaf in jax.tree.leaves((model_args, model_kwargs)))
    if not arrays or (lengths["num_chains"] > 1 and lengths["chain_method"] != "vectorized"):
        return None
    key = (kernel_type, model_identity(model), tuple(sorted(settings.items())),
           tuple(sorted(lengths.items())))
    try:
        kept = _KEPT.get(key)
    except TypeError:  # unhashable: a model or setting that holds arrays
        return None
    if kept is not None:
        _KEPT.move_to_end(key)
        return kept
    kernel = kernel_type(model, **settings)
    if not all(hasattr(kernel, name) for name in ("_init_strategy", "_init_fn")):
        return None  # a NumPyro whose kernels differ: a new MCMC object per run
    kernel.init = partial(_init_op_by_op, kernel.init)
    mcmc = MCMC(kernel, progress_bar=True, jit_model_args=True, **lengths)
    bars = bool(mcmc.progress_bar)
    mcmc.progress_bar = True  # the per-iteration loop, even where bars are hidden
    if not hasattr(mcmc, "_init_state_cache"):
        return None
    kept = _KEPT[key] = _Kept(key, mcmc, set(), threading.Lock(), bars)
    if len(_KEPT) > _MAX_KEPT:
        _KEPT.popitem(last=False)
    return kept


def _init_op_by_op(init: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A kernel's ``init``, run op by op rather than compiled.

    NumPyro's initialisation builds new functions at every run, so for
    vectorised chains JAX compiles its search for a valid start anew each
    time (about 2 s and 6 MB per MVP run with 4 chains, kept for the
    process's life); op by op it takes a fraction of that. The model's heavy
    parts still run compiled (:func:`~psyphy_numpyro.core.compiled.always_compiled`),
    once per shape: each primitive evaluated eagerly compiles on its own.
    """
    with jax.disable_jit():
        return init(*args, **kwargs)


def model_identity(model: Callable[..., None]) -> Any:
    """What identifies ``model`` across runs: itself, or a partial's function and arguments.

    ``functools.partial`` objects compare by identity, so a WPPM's
    ``numpyro_model`` (a new partial of ``wppm_model`` over its hashable spec
    at each access) is identified by what it binds. As with ``jax.jit``, a
    model is assumed to depend only on its arguments: a function whose
    behaviour depends on changing global state needs :func:`clear_samplers`.
    """
    if isinstance(model, partial):
        return (partial, model_identity(model.func), model.args,
                tuple(sorted(model.keywords.items())))
    return model


@contextlib.contextmanager
def _without_bar() -> Iterator[None]:
    """Hide NumPyro's progress bar (it writes to ``sys.stderr``), keeping warnings.

    Warnings raised meanwhile are shown after, as they would have been.
    """
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stderr(io.StringIO()):
        yield
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno, source=warning.source)


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
