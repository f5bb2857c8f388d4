"""Apply a per-trial function a chunk of trials at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp


def map_chunks(fn: Callable, arrays: Sequence[jnp.ndarray], chunk: int):
    """``fn(start, *blocks)`` over blocks of ``chunk`` trials, joined again.

    ``arrays`` share their leading (trial) axis; ``start`` is the index of a
    block's first trial (a multiple of ``chunk``, traced). The last block is
    padded with copies of trial 0, whose outputs are dropped. With at most
    ``chunk`` trials ``fn`` runs once on the arrays as they are.
    """
    n = arrays[0].shape[0]
    if n <= chunk:
        return fn(0, *arrays)
    num_chunks = -(-n // chunk)
    pad = num_chunks * chunk - n

    def blocks(x):
        x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, *x.shape[1:]))])
        return x.reshape(num_chunks, chunk, *x.shape[1:])

    out = jax.lax.map(
        lambda xs: fn(xs[0] * chunk, *xs[1:]),
        (jnp.arange(num_chunks), *(blocks(x) for x in arrays)),
    )
    return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:])[:n], out)
