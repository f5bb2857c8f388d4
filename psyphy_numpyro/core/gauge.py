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
one representative of each orbit (``W`` reshaped to rows and turned by a
fixed orthogonal frame, its first ``E`` rows lower triangular with a positive
diagonal) with the orbit's volume as a density factor, so every
rotation-invariant quantity keeps its posterior exactly while the sampler no
longer travels along the rotations (``NUTSSampler(fix_rotations=True)``).

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
from numpyro.distributions import constraints

from psyphy_numpyro.core.compiled import always_compiled


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
# Write the weights in prior-sd units as a matrix Z = (W / scale).reshape(-1, E)
# with n >= E rows (the scale is the same along the embedding axis, so Z Q is
# W Q in those units), and turn its rows by a fixed orthogonal n x n "frame"
# A. Every A Z whose top E x E block is nonsingular is uniquely L Q with Q in
# O(E) (rotations and reflections: both leave the model unchanged) and L
# "lower trapezoidal": its first E rows form a lower-triangular block with a
# positive diagonal. With dZ = prod_i L_ii^(E - 1 - i) dL dQ (i = 0..E-1; the
# rows below the block add no factor, and A has Jacobian 1), and a posterior
# invariant under Z -> Z Q, the marginal of L is p(L) prod_i L_ii^(E - 1 - i):
# sampling L samples the posterior of every rotation-invariant quantity
# exactly, with the rotation removed. The free coordinates are the block's
# strict lower triangle, log L_ii, and the other rows.
# Which frame: the block's rows fix the rotation for all the others, so they
# should be the best-determined directions. The principal frame (the left
# singular vectors of a fit's Z) makes the block the fit's principal axes,
# which pool every row; E single rows of Z (a permutation) made NUTS mix
# 2.3x slower per gradient in benchmarks/nuts_full.py.


def can_fix_rotation(prior: Any) -> bool:
    """Whether ``prior``'s ``W`` has enough rows (at least ``embedding_dim``)."""
    return not prior.is_mvp and math.prod(prior.shape[:-1]) >= prior.embedding_dim


def num_free(shape: tuple[int, ...]) -> int:
    """Free coordinates of a gauge-fixed ``W`` of ``shape``."""
    E = shape[-1]
    return math.prod(shape) - E * (E - 1) // 2


def principal_frame(W: Any, scale: Any) -> np.ndarray:
    """The frame whose block is ``W``'s principal axes (for a fit near ``W``).

    Parameters
    ----------
    W
        Weights, e.g. a MAP fit, shape ``(*basis, input_dim, E)``.
    scale
        Positive scale of every entry of ``W`` (the prior sd), same shape.

    Returns
    -------
    np.ndarray
        Orthogonal ``(n, n)`` matrix, ``n = W.size // E``: the left singular
        vectors of ``(W / scale).reshape(n, E)``, transposed.
    """
    W = np.asarray(W, dtype=np.float64)
    Z = W.reshape(-1, W.shape[-1]) / np.asarray(scale).reshape(-1, W.shape[-1])
    return np.linalg.svd(Z, full_matrices=True)[0].T


@always_compiled
def from_free(free: jnp.ndarray, scale: Any,
              frame: Any = None) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``W`` (the lower-trapezoidal representative) from its free coordinates.

    Parameters
    ----------
    free
        Free coordinates, shape ``(num_free(scale.shape),)``.
    scale
        Positive scale of every entry of ``W`` (e.g. ``prior.stddev()``), the
        same along the embedding axis; its shape is ``W``'s.
    frame
        Orthogonal ``(n, n)`` matrix turning the rows (see
        :func:`principal_frame`); default: none, the block is ``W``'s first
        ``E`` rows.

    Returns
    -------
    W, log_factor
        ``W``, and the log of the orbit volume times the Jacobian of
        ``free -> W``, :math:`\\sum_i (E - i) \\log L_{ii}` up to a constant,
        to add to the log density.
    """
    scale = jnp.asarray(scale)
    E = scale.shape[-1]
    rows, cols = np.tril_indices(E, -1)
    k = len(rows)
    log_diag = free[k:k + E]
    block = jnp.zeros((E, E), free.dtype).at[rows, cols].set(free[:k])
    L = jnp.concatenate([block + jnp.diag(jnp.exp(log_diag)),
                         free[k + E:].reshape(-1, E)])
    Z = L if frame is None else jnp.asarray(frame, L.dtype).T @ L
    W = Z * scale.reshape(-1, E)
    return W.reshape(scale.shape), jnp.sum((E - jnp.arange(E)) * log_diag)


@always_compiled
def to_free(W: Any, scale: Any, frame: Any = None) -> jnp.ndarray:
    """Free coordinates of the lower-trapezoidal representative of ``W``'s orbit.

    The inverse of :func:`from_free` up to the rotation: ``from_free(to_free(W,
    scale, frame), scale, frame)[0]`` is ``W @ Q`` for the orthogonal ``Q``
    that makes the block lower triangular with a positive diagonal.
    """
    W = jnp.asarray(W)
    E = W.shape[-1]
    if W.size // E < E:
        raise ValueError(f"W needs at least {E} rows of weights to fix the rotation, "
                         f"got shape {W.shape}.")
    M = W.reshape(-1, E) / jnp.asarray(scale).reshape(-1, E)  # prior-sd units
    if frame is not None:
        M = jnp.asarray(frame, M.dtype) @ M
    q, r = jnp.linalg.qr(M[:E].T)  # block = r^T q^T
    sign = jnp.where(jnp.diag(r) < 0, -1.0, 1.0)
    L = M @ (q * sign)
    rows, cols = np.tril_indices(E, -1)
    return jnp.concatenate([L[rows, cols], jnp.log(jnp.diag(L[:E])), L[E:].ravel()])


def _check_frame(frame: Any, num_rows: int) -> np.ndarray | None:
    """``frame`` as an orthogonal ``(num_rows, num_rows)`` array, or a ValueError."""
    if frame is None:
        return None
    A = np.asarray(frame, dtype=np.float64)
    if A.shape != (num_rows, num_rows) or not np.allclose(
            A @ A.T, np.eye(num_rows), atol=1e-5):
        raise ValueError(f"frame must be an orthogonal ({num_rows}, {num_rows}) "
                         f"matrix, got shape {A.shape}"
                         + ("." if A.shape != (num_rows, num_rows) else
                            " that is not orthogonal."))
    return A


class GaugeFixedPrior(dist.Distribution):
    """The prior of ``W`` pushed to the free coordinates of its representative.

    ``log_prob(free)`` is the prior density of ``W = from_free(free, sd)[0]``
    times the orbit volume and the Jacobian (up to a constant); ``sample``
    draws ``W`` from the prior and returns the free coordinates of its orbit.

    Parameters
    ----------
    prior
        A full-WPPM :class:`~psyphy_numpyro.Prior`.
    frame
        Orthogonal matrix turning the rows (see :func:`from_free`).
    """

    support = constraints.real_vector

    def __init__(self, prior: Any, frame: Any = None) -> None:
        if prior.is_mvp:
            raise ValueError("the MVP has no rotation symmetry to fix.")
        E = prior.embedding_dim
        if not can_fix_rotation(prior):
            raise ValueError(
                f"fixing the rotation needs at least {E} rows of weights "
                f"(embedding_dim), but W of shape {prior.shape} has "
                f"{math.prod(prior.shape[:-1])}; raise basis_degree."
            )
        self.prior = prior
        self.scale = prior.stddev()
        self.frame = _check_frame(frame, self.scale.size // E)
        super().__init__(batch_shape=(), event_shape=(num_free(prior.shape),))

    def sample(self, key, sample_shape=()):
        W = self.scale * jax.random.normal(key, tuple(sample_shape) + self.scale.shape)
        flat = W.reshape(-1, *self.scale.shape)
        free = jax.vmap(lambda w: to_free(w, self.scale, self.frame))(flat)
        return free.reshape(tuple(sample_shape) + self.event_shape)

    def log_prob(self, value):
        def one(free):
            W, log_factor = from_free(free, self.scale, self.frame)
            return self.prior.distribution().log_prob(W) + log_factor

        return jnp.vectorize(one, signature="(k)->()")(value)


def gauge_fixed_model(wppm: Any, frame: Any = None) -> Callable[..., None]:
    """The full WPPM's NumPyro model on the gauge-fixed ``W`` (for NUTS).

    Called like ``wppm.numpyro_model``: ``fn(ref, probe, responses=None,
    mc_samples=None)``. Samples the free coordinates (site ``W_free``, from
    :class:`GaugeFixedPrior`) and records ``W`` as a deterministic site; the
    trials are observed as in :func:`~psyphy_numpyro.core.numpyro_model.wppm_model`. The
    posterior of every rotation-invariant quantity (the covariance field,
    thresholds, p(correct)) is the same as the original model's, and ``W``
    itself is identified, so its R-hat and ESS are meaningful. ``frame``
    turns the rows before the block is taken (:func:`principal_frame` of a
    fit).
    """
    from psyphy_numpyro.core.numpyro_model import observe_trials, sample_lapse

    prior = GaugeFixedPrior(wppm.prior, frame)

    def model(ref, probe, responses=None, mc_samples=None):
        free = numpyro.sample("W_free", prior)
        W = numpyro.deterministic("W", from_free(free, prior.scale, prior.frame)[0])
        observe_trials(wppm, {"W": W, **sample_lapse(wppm)}, ref, probe, responses,
                       mc_samples)

    return model
