r"""Removing the full WPPM's rotation symmetry from posterior draws of ``W``.

The covariance field depends on the weights only through
:math:`U(x) U(x)^T`, and :math:`U(x) R` gives the same product for every
orthogonal ``R`` acting on the embedding axis. The prior is invariant too, so
the posterior of ``W`` is spread along these rotations and single entries of
``W`` are not identified: chains can drift along the symmetry and disagree on
``W`` while agreeing on every covariance.

:func:`align_embedding` maps each draw to the member of its orbit closest to
a reference (orthogonal Procrustes). The aligned weights give the same
covariance field, and their entries are identified, so R-hat and ESS on them
are meaningful.

References
----------
Schönemann, P. H. (1966). A generalized solution of the orthogonal
Procrustes problem. Psychometrika 31, 1–10.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["align_embedding"]


@jax.jit
def _align(W: jnp.ndarray, reference: jnp.ndarray) -> jnp.ndarray:
    e = W.shape[-1]
    flat_ref = reference.reshape(-1, e)

    def one(w):
        u, _, vt = jnp.linalg.svd(w.reshape(-1, e).T @ flat_ref)
        return w @ (u @ vt)

    lead = W.shape[: W.ndim - reference.ndim]
    out = jax.vmap(one)(W.reshape((-1,) + reference.shape))
    return out.reshape(lead + reference.shape)


def align_embedding(W: Any, reference: Any) -> jnp.ndarray:
    """Rotate each draw of ``W`` in its embedding to best match ``reference``.

    Parameters
    ----------
    W
        Draws of the weights, shape ``(..., *W_shape)`` (e.g. ``(chain, draw,
        deg+1, deg+1, input_dim, embedding_dim)``), or one ``W``.
    reference
        One ``W`` to align to, e.g. a MAP estimate or the highest-density draw.

    Returns
    -------
    jnp.ndarray
        ``W @ R`` per draw, with ``R`` the orthogonal matrix (rotations and
        reflections) minimising the Frobenius distance to ``reference``; same
        shape as ``W``.

    Examples
    --------
    >>> W = jax.random.normal(jax.random.PRNGKey(0), (3, 3, 2, 3))
    >>> R = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(1), (3, 3)))[0]
    >>> bool(jnp.allclose(align_embedding(W @ R, W), W, atol=1e-5))
    True
    """
    W, reference = jnp.asarray(W), jnp.asarray(reference)
    if reference.ndim < 2 or W.shape[W.ndim - reference.ndim:] != reference.shape:
        raise ValueError(
            f"W must have shape (..., *{reference.shape}) to align to a reference "
            f"of shape {reference.shape}, got {W.shape}."
        )
    return _align(W, reference)
