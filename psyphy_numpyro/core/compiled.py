"""Functions that run compiled even where JAX's jit is switched off."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax


def always_compiled(fn: Callable | None = None, **jit_kwargs) -> Callable:
    """``jax.jit(fn, **jit_kwargs)`` that stays compiled under ``jax.disable_jit``.

    The samplers start NumPyro's kernels op by op (see
    :func:`psyphy_numpyro.core.infer.mcmc.run_kernel`), where every primitive
    evaluated eagerly compiles on its own (about 45 ms apiece on CPU). A
    model's heavy parts wrapped here compile once per shape instead; inside
    a compiled program they are inlined as any jitted function is.
    """
    if fn is None:
        return functools.partial(always_compiled, **jit_kwargs)
    jitted = jax.jit(fn, **jit_kwargs)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with jax.disable_jit(False):
            return jitted(*args, **kwargs)

    return call
