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

:func:`gauge_fixed_model` removes the symmetry before sampling: NUTS runs on
one representative of each orbit (``W`` reshaped to rows, ``E`` chosen rows,
the pivots, lower triangular with a positive diagonal) with the orbit's volume as a
density factor, so every rotation-invariant quantity keeps its posterior
exactly while the sampler no longer travels along the rotations
(``NUTSSampler(fix_rotations=True)``).

References
----------
Schönemann, P. H. (1966). A generalized solution of the orthogonal
Procrustes problem. Psychometrika 31, 1–10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import scipy.linalg
from numpyro.distributions import constraints

__all__ = [
    "GaugeFixedPrior", "align_embedding", "from_free", "gauge_fixed_model", "num_free",
    "pivot_rows", "to_free",
]


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


# -- sampling with the rotation fixed ------------------------------------------------
# Write the weights as a matrix M = W.reshape(-1, E) with n >= E rows. Every M
# whose top E x E block is nonsingular is uniquely M = L Q with Q in O(E)
# (rotations and reflections: both leave the model unchanged) and L "lower
# trapezoidal": its first E rows (or any E chosen rows, the pivots) form a
# lower-triangular block with a positive diagonal.
# With dM = prod_i L_ii^(E - 1 - i) dL dQ (i = 0..E-1; the rows below the block
# add no factor), and a posterior invariant under M -> M Q, the marginal of L
# is p(L) prod_i L_ii^(E - 1 - i): sampling L samples the posterior of every
# rotation-invariant quantity exactly, with the rotation removed.
# The free coordinates are the block's strict lower triangle, log L_ii, and
# the other rows, each entry in units of a scale (the prior sd), so that NUTS
# starts with coordinates of comparable size.


def num_free(shape: tuple[int, ...]) -> int:
    """Free coordinates of a gauge-fixed ``W`` of ``shape``."""
    E = shape[-1]
    return math.prod(shape) - E * (E - 1) // 2


def _row_order(num_rows: int, E: int, pivots: Any) -> np.ndarray:
    """Rows of ``M`` with the ``E`` pivot rows first (default: the first ``E``)."""
    pivots = list(range(E)) if pivots is None else [int(i) for i in pivots]
    if len(set(pivots)) != E or not all(0 <= i < num_rows for i in pivots):
        raise ValueError(f"pivots must be {E} different row indices below {num_rows}, "
                         f"got {pivots}.")
    return np.array(pivots + [i for i in range(num_rows) if i not in pivots])


def pivot_rows(W: Any) -> tuple[int, ...]:
    """The ``E`` rows of ``W.reshape(-1, E)`` that are most clearly independent.

    Chosen by QR with column pivoting of the rows (largest first), so the
    triangular block of the representative has a diagonal far from zero.
    Pass them as ``pivots`` for a fit near ``W``.
    """
    M = np.asarray(W, dtype=float)
    E = M.shape[-1]
    _, _, piv = scipy.linalg.qr(M.reshape(-1, E).T, pivoting=True)
    return tuple(int(i) for i in piv[:E])


def from_free(free: jnp.ndarray, scale: Any,
              pivots: Any = None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``W`` (the lower-trapezoidal representative) from its free coordinates.

    Parameters
    ----------
    free
        Free coordinates, shape ``(num_free(scale.shape),)``.
    scale
        Positive scale of every entry of ``W`` (e.g. ``prior.stddev()``); its
        shape is ``W``'s.
    pivots
        The ``E`` rows of ``W.reshape(-1, E)`` that form the triangular block,
        in order (default: the first ``E``; see :func:`pivot_rows`).

    Returns
    -------
    W, log_factor
        ``W``, and the log of the orbit volume times the Jacobian of
        ``free -> W``, :math:`\\sum_i (E - i) \\log L_{ii}` up to a constant,
        to add to the log density.
    """
    scale = np.asarray(scale)
    E = scale.shape[-1]
    order = _row_order(scale.size // E, E, pivots)
    S = scale.reshape(-1, E)[order]
    rows, cols = np.tril_indices(E, -1)
    k = len(rows)
    log_diag = free[k:k + E]
    block = jnp.zeros((E, E), free.dtype).at[rows, cols].set(free[:k])
    block = (block + jnp.diag(jnp.exp(log_diag))) * S[:E]
    rest = free[k + E:].reshape(-1, E) * S[E:]
    M = jnp.concatenate([block, rest])[np.argsort(order)]
    return M.reshape(scale.shape), jnp.sum((E - jnp.arange(E)) * log_diag)


def to_free(W: Any, scale: Any, pivots: Any = None) -> jnp.ndarray:
    """Free coordinates of the lower-trapezoidal representative of ``W``'s orbit.

    The inverse of :func:`from_free` up to the rotation: ``from_free(to_free(W,
    scale, pivots), scale, pivots)[0]`` is ``W @ Q`` for the orthogonal ``Q``
    that makes the pivot rows lower triangular with a positive diagonal.
    """
    W = jnp.asarray(W)
    E = W.shape[-1]
    if W.size // E < E:
        raise ValueError(f"W needs at least {E} rows of weights to fix the rotation, "
                         f"got shape {W.shape}.")
    order = _row_order(W.size // E, E, pivots)
    M = W.reshape(-1, E)[order]
    q, r = jnp.linalg.qr(M[:E].T)  # block = r^T q^T
    sign = jnp.where(jnp.diag(r) < 0, -1.0, 1.0)
    L = (M @ (q * sign)) / np.asarray(scale).reshape(-1, E)[order]
    rows, cols = np.tril_indices(E, -1)
    return jnp.concatenate([L[rows, cols], jnp.log(jnp.diag(L[:E])), L[E:].ravel()])


class GaugeFixedPrior(dist.Distribution):
    """The prior of ``W`` pushed to the free coordinates of its representative.

    ``log_prob(free)`` is the prior density of ``W = from_free(free, sd)[0]``
    times the orbit volume and the Jacobian (up to a constant); ``sample``
    draws ``W`` from the prior and returns the free coordinates of its orbit.

    Parameters
    ----------
    prior
        A full-WPPM :class:`~psyphy_numpyro.Prior`.
    pivots
        Rows of the triangular block (see :func:`from_free`).
    """

    support = constraints.real_vector

    def __init__(self, prior: Any, pivots: Any = None) -> None:
        if prior.is_mvp:
            raise ValueError("the MVP has no rotation symmetry to fix.")
        E = prior.embedding_dim
        if math.prod(prior.shape[:-1]) < E:
            raise ValueError(
                f"fixing the rotation needs at least {E} rows of weights "
                f"(embedding_dim), but W of shape {prior.shape} has "
                f"{math.prod(prior.shape[:-1])}; raise basis_degree."
            )
        self.prior = prior
        self.scale = prior.stddev()
        self.pivots = tuple(_row_order(self.scale.size // E, E, pivots)[:E])
        super().__init__(batch_shape=(), event_shape=(num_free(prior.shape),))

    def sample(self, key, sample_shape=()):
        W = self.scale * jax.random.normal(key, tuple(sample_shape) + self.scale.shape)
        flat = W.reshape(-1, *self.scale.shape)
        free = jax.vmap(lambda w: to_free(w, self.scale, self.pivots))(flat)
        return free.reshape(tuple(sample_shape) + self.event_shape)

    def log_prob(self, value):
        def one(free):
            W, log_factor = from_free(free, self.scale, self.pivots)
            return self.prior.distribution().log_prob(W) + log_factor

        return jnp.vectorize(one, signature="(k)->()")(value)


def gauge_fixed_model(wppm: Any, pivots: Any = None) -> Callable[..., None]:
    """The full WPPM's NumPyro model on the gauge-fixed ``W`` (for NUTS).

    Called like ``wppm.numpyro_model``: ``fn(ref, probe, responses=None,
    noise=None)``. Samples the free coordinates (site ``W_free``, from
    :class:`GaugeFixedPrior`) and records ``W`` as a deterministic site; the
    trials are observed as in :func:`~psyphy_numpyro.model.wppm_model`. The
    posterior of every rotation-invariant quantity (the covariance field,
    thresholds, p(correct)) is the same as the original model's, and ``W``
    itself is identified, so its R-hat and ESS are meaningful. ``pivots``
    chooses the rows of the triangular block (:func:`pivot_rows` of a fit).
    """
    from .model import observe_trials

    prior = GaugeFixedPrior(wppm.prior, pivots)

    def model(ref, probe, responses=None, noise=None):
        free = numpyro.sample("W_free", prior)
        W = numpyro.deterministic("W", from_free(free, prior.scale, prior.pivots)[0])
        observe_trials(wppm, {"W": W}, ref, probe, responses, noise)

    return model
