"""Progress bars that time compiled steps, and run-time estimates before long runs.

JAX compiles a loop on its first call, which for the full WPPM can take longer
than all of its steps. A bar whose clock runs through that call reports the
compilation as the first steps' time, so its rate and remaining time start
wrong (hours for a fit that takes a second) and, when the steps then finish
between two refreshes, stay wrong. The runners here compile first, while the
bar says ``compiling`` (:func:`open_bar`, :func:`compile_ahead`), and start
its clock when the compiled steps start (:func:`start_clock`).

Before a long MCMC run, :func:`time_gradient` times the compiled gradient of
the potential, from which :class:`RunEstimate` gives the run's duration.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.distributions import biject_to
from numpyro.infer.util import potential_energy
from tqdm.auto import tqdm

__all__ = ["RunEstimate", "compile_ahead", "open_bar", "say", "start_clock",
           "time_gradient"]

#: Gradients per NUTS iteration of the full WPPM (few, typical, many), in units
#: of one timed gradient. Measured with ``fix_rotations``: 63 to 131 leapfrog
#: steps per iteration (``benchmarks/README.md``); 4 vectorised chains on 504
#: trials (degree 2, 100 + 100 iterations from a MAP fit) averaged 90, and 127
#: for the slowest chain of each iteration, which sets the pace: the bar
#: measured 184 s against 165 s estimated at 127.
NUTS_GRADIENTS = (63, 127, 255)
#: The same for MALA (one leapfrog step): 2.7 timed gradients per iteration
#: were measured on 1,000 trials (the step's bookkeeping, the acceptance test).
MALA_GRADIENTS = (1, 3, 5)


def open_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar over ``total`` steps that says it is compiling until :func:`start_clock`."""
    return tqdm(total=total, desc=f"{desc} (compiling)", leave=False, disable=not enabled)


def start_clock(bar: tqdm, desc: str) -> None:
    """Name the bar ``desc`` and start its clock and rate now, at step 0."""
    bar.set_description(desc, refresh=False)
    bar.reset()


def compile_ahead(fn: Any, *args: Any) -> Callable:
    """``fn`` (a ``jax.jit`` function) compiled for ``args``: the compiled program."""
    return fn.lower(*args).compile()


def say(message: str, *, once: bool = False) -> None:
    """Write one line of progress information to stderr, beside any open bar.

    With ``once``, a message already written by this process is not repeated.
    """
    if once:
        if message in _SAID:
            return
        _SAID.add(message)
    tqdm.write(message, file=sys.stderr)


_SAID: set[str] = set()


def time_gradient(rng_key: jax.Array, model: Callable[..., None], model_args: tuple,
                  model_kwargs: dict, num_chains: int = 1, *, max_repeats: int = 10,
                  budget_seconds: float = 0.5) -> float:
    """Seconds of one compiled gradient of a NumPyro model's potential energy.

    The gradient is taken at a prior draw, over ``num_chains`` copies at once
    when ``num_chains > 1`` (as vectorised chains evaluate it), compiled first
    and then timed 3 to ``max_repeats`` times (fewer once ``budget_seconds``
    are spent); the median is returned.
    """
    tr = handlers.trace(handlers.seed(model, rng_key)).get_trace(*model_args,
                                                                  **model_kwargs)
    z = {name: biject_to(site["fn"].support).inv(site["value"])
         for name, site in tr.items()
         if site["type"] == "sample" and not site["is_observed"]}

    def energy(z, args, kwargs):
        return potential_energy(model, args, kwargs, z)

    grad = jax.value_and_grad(energy)
    if num_chains > 1:
        grad = jax.vmap(grad, in_axes=(0, None, None))
        z = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_chains, *jnp.shape(x))), z)
    compiled = compile_ahead(jax.jit(grad), z, model_args, model_kwargs)
    jax.block_until_ready(compiled(z, model_args, model_kwargs))
    times: list[float] = []
    while len(times) < 3 or (len(times) < max_repeats and sum(times) < budget_seconds):
        start = time.perf_counter()
        jax.block_until_ready(compiled(z, model_args, model_kwargs))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


class RunEstimate(NamedTuple):
    """How long an MCMC run should take, from the time of one gradient.

    Attributes
    ----------
    gradient_seconds
        One gradient of every chain (:func:`time_gradient`).
    iterations
        Iterations per chain, warm-up included.
    gradients
        Gradients per iteration (leapfrog steps and the step's own work, in
        units of one timed gradient): ``(few, typical, many)``.
    """

    gradient_seconds: float
    iterations: int
    gradients: tuple[int, int, int]

    @property
    def seconds(self) -> tuple[float, float, float]:
        """The run's duration at each of ``gradients``."""
        return tuple(self.gradient_seconds * self.iterations * g for g in self.gradients)

    def describe(self) -> str:
        """E.g. ``"about 16 min (8 min to 32 min at 63 to 255 gradients per
        iteration, 127 assumed; one gradient 39 ms)"``."""
        few, typical, many = self.seconds
        return (f"about {duration(typical)} ({duration(few)} to {duration(many)} at "
                f"{self.gradients[0]} to {self.gradients[2]} gradients per iteration, "
                f"{self.gradients[1]} assumed; one gradient "
                f"{1e3 * self.gradient_seconds:.3g} ms)")


def duration(seconds: float) -> str:
    """``seconds`` in words: ``"4.2 s"``, ``"42 s"``, ``"1.7 min"``, ``"12 min"``, ``"2.5 h"``."""
    for unit, size, limit in (("s", 1, 90), ("min", 60, 5400)):
        if seconds < limit:
            value = seconds / size
            return f"{value:.2g} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{seconds / 3600:.1f} h"
