r"""The Gaussian oddity rule in its reduced form: fast plain Monte Carlo.

With Gaussian noise the oddity rule of :mod:`psyphy_numpyro.core.oddity.psyphy_draws` depends
on its ``3 (e + d)`` standard draws only through two ``d``-dimensional
Gaussian vectors. In the coordinates that whiten
:math:`\bar\Sigma = \tfrac23\Sigma_r + \tfrac13\Sigma_c = L L^T`, write
:math:`y_0, y_1 \sim N(0, A)` for the reference samples and
:math:`y_2 \sim N(0, B)` for the comparison, with
:math:`A = L^{-1}\Sigma_r L^{-T}` and :math:`B = L^{-1}\Sigma_c L^{-T}`. With

.. math:: u = y_0 - y_1 \sim N(0, 2A), \qquad
          w = g + \tfrac12(y_0 + y_1) - y_2 \sim N(g, \tfrac12 A + B),
          \qquad g = L^{-1}(r - c),

independent of each other, the decision variable is

.. math:: \Delta = \min(d^2_{02}, d^2_{12}) - d^2_{01}
          = |w|^2 - |w \cdot u| - \tfrac34 |u|^2 .

So :math:`p = E[\sigma(\Delta / h)]` is a ``2d``-dimensional Gaussian
integral. Averaging :math:`\sigma(\Delta_s/h)` over ``S`` independent draws of
``(u, w)`` has exactly the distribution of psyphy's estimator with ``S``
samples (the same estimator), at a fraction of the arithmetic and random
numbers. Its gradient is computed in the same pass as the value (a custom
VJP), in chunks of trials so memory stays bounded.

Per-trial draws come cheaply: a pool of ``K`` independent sets of ``S``
standard normal points (``K`` = :data:`POINT_SETS`, or the number of trials
if fewer), trial ``t`` using set ``t mod K`` rotated by its own random
orthogonal matrix. A rotated set is again ``S`` independent standard normal
draws, so every trial's estimate has exactly psyphy's distribution. A rotation
keeps each point's norm, so two trials that use the same set share the
sampling error of its radii; the pool makes that one trial in ``K`` instead of
all of them, for ``K * 2d * S`` random normals per step instead of
``N * 2d * S``.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core.chunks import map_chunks
from psyphy_numpyro.core.covariance import lower_solve, small_cholesky

CHUNK_ELEMENTS = 32768
"""(trial, sample) pairs per chunk of the Monte Carlo kernel: enough to fill the
vector units, few enough that a chunk's arrays stay in cache (measured in
``benchmarks/kernel_rates.py``)."""

POINT_SETS = 256
"""Independent point sets in the pool of per-trial draws (see the module docstring)."""


class GaussianDraws(NamedTuple):
    """Standard normal draws for :func:`gaussian_mc_p_correct`.

    Attributes
    ----------
    points
        Standard normal points: one set shared by every trial, shape ``(2 *
        input_dim, num_samples)``, or a pool of sets, shape ``(K, 2 *
        input_dim, num_samples)``, trial ``t`` using set ``t mod K``.
    rotations
        Per-trial orthogonal matrices, shape ``(num_trials, 2 * input_dim, 2 *
        input_dim)``; None uses the points unrotated.
    """

    points: jnp.ndarray
    rotations: jnp.ndarray | None = None


def gaussian_draws(
    key: jax.Array, num_trials: int | None, num_samples: int, input_dim: int
) -> GaussianDraws:
    """Draw one shared set of points, or a pool of sets and per-trial rotations.

    Parameters
    ----------
    key
        PRNG key.
    num_trials
        None for one shared set of draws, else the number of trials.
    num_samples
        Monte Carlo samples per trial.
    input_dim
        Dimension of the stimulus space.

    Returns
    -------
    GaussianDraws
        Shared points if ``num_trials`` is None; else ``min(num_trials,
        POINT_SETS)`` point sets and ``num_trials`` rotations.
    """
    key_points, key_rot = jax.random.split(key)
    m = 2 * input_dim
    if num_trials is None:
        return GaussianDraws(jax.random.normal(key_points, (m, num_samples)))
    sets = min(num_trials, POINT_SETS)
    points = jax.random.normal(key_points, (sets, m, num_samples))
    return GaussianDraws(points, jax.random.orthogonal(key_rot, m, (num_trials,)))


def default_chunk(num_samples: int) -> int:
    """Trials per chunk for ``num_samples`` draws each: a power of two near
    :data:`CHUNK_ELEMENTS` ``/ num_samples``, from 8 to 1,024.

    Examples
    --------
    >>> default_chunk(2000), default_chunk(500), default_chunk(10)
    (16, 64, 1024)
    """
    return int(2 ** np.clip(np.round(np.log2(CHUNK_ELEMENTS / num_samples)), 3, 10))


def whitened_factors(
    U_ref: jnp.ndarray,
    U_probe: jnp.ndarray,
    ref: jnp.ndarray,
    probe: jnp.ndarray,
    diag_term: float,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    r"""Per-trial factors of the reduced rule, in whitened coordinates.

    Returns ``P`` with :math:`P P^T = 2A` (so :math:`u = P z_1`), ``Q`` with
    :math:`Q Q^T = \tfrac12 A + B` (so :math:`w = g + Q z_2`), both lower
    triangular ``(..., d, d)``, and the whitened gap ``g`` ``(..., d)``.
    """
    d = U_ref.shape[-2]
    eye = jnp.eye(d, dtype=U_ref.dtype)

    def cov(U: jnp.ndarray) -> jnp.ndarray:
        return jnp.einsum("...de,...fe->...df", U, U) + diag_term * eye

    batch = jnp.broadcast_shapes(
        U_ref.shape[:-2], U_probe.shape[:-2], ref.shape[:-1], probe.shape[:-1]
    )
    sigma_r = jnp.broadcast_to(cov(U_ref), batch + (d, d))
    sigma_c = jnp.broadcast_to(cov(U_probe), batch + (d, d))
    chol = small_cholesky((2.0 / 3.0) * sigma_r + (1.0 / 3.0) * sigma_c)
    P = lower_solve(chol, small_cholesky(2.0 * sigma_r))
    Q = lower_solve(chol, small_cholesky(0.5 * sigma_r + sigma_c))
    gap = jnp.broadcast_to(ref - probe, batch + (d,))
    g = lower_solve(chol, gap[..., None])[..., 0]
    return P, Q, g


def _value_and_jacobian(A, g, points, bandwidth):
    """p and its derivatives w.r.t. ``A`` and ``g`` for a chunk of trials.

    ``A`` is ``(n, 2d, 2d)``, ``g`` is ``(n, d)``, ``points`` ``(n, 2d, S)``
    or, shared by every trial, ``(2d, S)``.
    """
    d = g.shape[-1]
    num_samples = points.shape[-1]
    pts = "njs" if points.ndim == 3 else "js"
    v = jnp.einsum(f"nij,{pts}->nis", A, points)
    u, w = v[:, :d], v[:, d:] + g[..., None]
    wu = jnp.sum(w * u, axis=1)
    delta = jnp.sum(w * w, axis=1) - jnp.abs(wu) - 0.75 * jnp.sum(u * u, axis=1)
    s = jax.nn.sigmoid(delta / bandwidth)
    p = jnp.mean(s, axis=-1)
    # dp/dDelta per sample, then the chain rule through u and w
    k = (s * (1.0 - s) / (bandwidth * num_samples))[:, None]
    sign = jnp.sign(wu)[:, None]
    grad_v = jnp.concatenate([k * (-sign * w - 1.5 * u), k * (2.0 * w - sign * u)], axis=1)
    dA = jnp.einsum(f"nis,{pts}->nij", grad_v, points)
    dg = jnp.sum(grad_v[:, d:], axis=-1)
    return p, dA, dg


def _sets_for(points, n, start):
    """The point sets of trials ``start, ..., start + n - 1``.

    ``(n, 2d, S)``, or ``(2d, S)`` for a single shared set. ``start`` is a
    multiple of ``n``, so a pool of ``n`` sets lines up as it is.
    """
    num_sets = points.shape[0]
    if num_sets == 1:
        return points[0]
    if num_sets == n:
        return points
    return points[(start + jnp.arange(n)) % num_sets]


def _chunked(A, g, points, bandwidth, chunk):
    """The kernel over chunks of trials; trial ``t`` uses ``points[t % K]``."""
    return map_chunks(
        lambda start, A, g: _value_and_jacobian(
            A, g, _sets_for(points, A.shape[0], start), bandwidth),
        (A, g), chunk)


def _mc_kernel(A, g, points, bandwidth, chunk):
    return _chunked(A, g, points, bandwidth, chunk)[0]


def _mc_kernel_fwd(A, g, points, bandwidth, chunk):
    p, dA, dg = _chunked(A, g, points, bandwidth, chunk)
    return p, (dA, dg, points)


def _mc_kernel_bwd(bandwidth, chunk, residuals, ct):
    dA, dg, points = residuals
    return ct[:, None, None] * dA, ct[:, None] * dg, jnp.zeros_like(points)


_mc_kernel = jax.custom_vjp(_mc_kernel, nondiff_argnums=(3, 4))
_mc_kernel.defvjp(_mc_kernel_fwd, _mc_kernel_bwd)


def gaussian_mc_p_correct(
    U_ref: jnp.ndarray,
    U_probe: jnp.ndarray,
    ref: jnp.ndarray,
    probe: jnp.ndarray,
    draws: GaussianDraws,
    *,
    diag_term: float,
    bandwidth: float,
    clip: float,
    chunk: int | None = None,
) -> jnp.ndarray:
    """Plain Monte Carlo p(correct) of the oddity task with Gaussian noise.

    Same estimator as :func:`psyphy_numpyro.core.oddity.psyphy_draws.oddity_p_correct` with
    Gaussian draws (see the module docstring), computed in the reduced form.

    Parameters
    ----------
    U_ref, U_probe
        Square roots ``U(ref)``, ``U(probe)``, shape ``(..., input_dim,
        embedding_dim)``.
    ref, probe
        Stimuli, shape ``(..., input_dim)``.
    draws
        :class:`GaussianDraws`; with rotations, their number must equal the
        number of trials (the product of the batch axes).
    diag_term, bandwidth, clip
        As in :func:`psyphy_numpyro.core.oddity.psyphy_draws.oddity_p_correct`.
    chunk
        Trials per chunk of the kernel (default: :func:`default_chunk`).

    Returns
    -------
    jnp.ndarray
        p(correct), shape of the broadcast trial axes.

    """
    P, Q, g = whitened_factors(U_ref, U_probe, ref, probe, diag_term)
    batch, d = g.shape[:-1], g.shape[-1]
    points = draws.points if draws.points.ndim == 3 else draws.points[None]
    if points.shape[-2] != 2 * d:
        raise ValueError(
            f"draws.points must have {2 * d} rows for input_dim {d}, got "
            f"{points.shape[-2]}."
        )
    zeros = jnp.zeros_like(P)
    A = jnp.concatenate(
        [jnp.concatenate([P, zeros], -1), jnp.concatenate([zeros, Q], -1)], -2
    ).reshape(-1, 2 * d, 2 * d)
    if draws.rotations is not None:
        if draws.rotations.shape[0] != A.shape[0]:
            raise ValueError(
                f"draws has rotations for {draws.rotations.shape[0]} trials, "
                f"but there are {A.shape[0]}."
            )
        A = A @ draws.rotations
    chunk = default_chunk(points.shape[-1]) if chunk is None else chunk
    p = _mc_kernel(A, g.reshape(-1, d), points, bandwidth, chunk)
    return jnp.clip(p.reshape(batch), clip, 1.0 - clip)
