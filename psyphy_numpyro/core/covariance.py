r"""Covariance of the observer's internal noise, as pure ``jax.numpy`` maths.

The MVP model has one covariance for the whole stimulus space,

.. math:: \Sigma = \operatorname{diag}(\exp(\text{log\_diag})),

and the discriminability of a reference ``r`` and a probe ``p`` is the
Mahalanobis length of ``p - r`` under :math:`\Sigma + \epsilon I`.

The full WPPM lets the covariance vary over the stimulus space through a
rectangular square root built on the Chebyshev basis of :mod:`.basis`,

.. math:: U(x) = \sum_{ij} W_{ij}\, \phi_{ij}(x), \qquad
          \Sigma(x) = U(x) U(x)^T + \epsilon I,

with ``W`` in psyphy 0.0.5's layout ``(degree + 1,) * input_dim +
(input_dim, embedding_dim)``.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import jax.numpy as jnp

from psyphy_numpyro.core.basis import basis_functions


def diagonal_covariance(log_diag: jnp.ndarray) -> jnp.ndarray:
    """Diagonal covariance ``diag(exp(log_diag))``.

    Parameters
    ----------
    log_diag
        Log variances, shape ``(..., d)``.

    Returns
    -------
    jnp.ndarray
        Covariance matrices, shape ``(..., d, d)``.
    """
    var = jnp.exp(log_diag)
    return var[..., :, None] * jnp.eye(log_diag.shape[-1], dtype=var.dtype)


def mahalanobis(
    cov: jnp.ndarray, delta: jnp.ndarray, diag_term: float = 0.0
) -> jnp.ndarray:
    r"""Mahalanobis length :math:`\sqrt{\delta^T (\Sigma + \epsilon I)^{-1} \delta}`.

    Parameters
    ----------
    cov
        Covariance, shape ``(..., d, d)``; broadcasts against ``delta``.
    delta
        Differences, shape ``(..., d)``.
    diag_term
        The :math:`\epsilon` added to the diagonal.

    Returns
    -------
    jnp.ndarray
        Lengths, shape ``delta.shape[:-1]``; 0, with a zero gradient, where
        ``delta`` is 0 (catch trials).
    """
    d = delta.shape[-1]
    cov = cov + diag_term * jnp.eye(d, dtype=cov.dtype)
    if cov.ndim == 2:  # one covariance for every delta: a single solve
        flat = delta.reshape(-1, d)
        sol = jnp.linalg.solve(cov, flat.T).T.reshape(delta.shape)
    else:
        cov = jnp.broadcast_to(cov, delta.shape[:-1] + (d, d))
        sol = jnp.linalg.solve(cov, delta[..., None])[..., 0]
    q = jnp.sum(delta * sol, axis=-1)
    # a catch trial (delta = 0) has d = 0 whatever the covariance, so its
    # gradient is 0; the inner where keeps sqrt's infinite slope at 0 out of it
    positive = q > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, q, 1.0)), 0.0)


def _check_weights(W: jnp.ndarray, input_dim: int, degree: int) -> None:
    expected = (degree + 1,) * input_dim + (input_dim,)
    if W.ndim != input_dim + 2 or W.shape[: input_dim + 1] != expected:
        raise ValueError(
            f"W must have shape {expected + ('embedding_dim',)} for input_dim="
            f"{input_dim} and degree={degree}, got {tuple(W.shape)}; check that "
            "degree matches the prior and x has shape (..., input_dim)."
        )


def wishart_sqrt(W: jnp.ndarray, x: jnp.ndarray, degree: int) -> jnp.ndarray:
    r"""Square root :math:`U(x) = \sum_{ij} W_{ij} \phi_{ij}(x)` of the WPPM.

    Parameters
    ----------
    W
        Weights, shape ``(degree + 1,) * input_dim + (input_dim,
        embedding_dim)`` (psyphy 0.0.5's ``params["W"]``).
    x
        Stimuli in :math:`[-1, 1]^{input\_dim}`, shape ``(..., input_dim)``.
    degree
        Chebyshev degree per dimension (static Python int).

    Returns
    -------
    jnp.ndarray
        ``U(x)``, shape ``(..., input_dim, embedding_dim)``.
    """
    x = jnp.asarray(x)
    input_dim = x.shape[-1]
    phi = basis_functions(x, degree)  # validates input_dim and degree
    _check_weights(W, input_dim, degree)
    idx = "ijk"[:input_dim]
    return jnp.einsum(f"...{idx},{idx}de->...de", phi, W)


def covariance_from_sqrt(U: jnp.ndarray, diag_term: float) -> jnp.ndarray:
    r"""Covariance :math:`U U^T + \epsilon I` from a rectangular square root.

    Parameters
    ----------
    U
        Square roots, shape ``(..., input_dim, embedding_dim)``.
    diag_term
        The :math:`\epsilon` added to the diagonal.

    Returns
    -------
    jnp.ndarray
        Covariances, shape ``(..., input_dim, input_dim)``.
    """
    d = U.shape[-2]
    return jnp.einsum("...de,...fe->...df", U, U) + diag_term * jnp.eye(
        d, dtype=U.dtype
    )


def wishart_covariance(
    W: jnp.ndarray, x: jnp.ndarray, degree: int, diag_term: float
) -> jnp.ndarray:
    r"""WPPM covariance field :math:`\Sigma(x) = U(x) U(x)^T + \epsilon I`.

    Parameters
    ----------
    W
        Weights, shape ``(degree + 1,) * input_dim + (input_dim,
        embedding_dim)``.
    x
        Stimuli in :math:`[-1, 1]^{input\_dim}`, shape ``(..., input_dim)``.
    degree
        Chebyshev degree per dimension (static Python int).
    diag_term
        The :math:`\epsilon` added to the diagonal (psyphy's ``diag_term``).

    Returns
    -------
    jnp.ndarray
        Covariances, shape ``(..., input_dim, input_dim)``.

    Examples
    --------
    >>> W = jnp.zeros((5, 5, 2, 3)).at[0, 0].set(jnp.eye(2, 3))
    >>> wishart_covariance(W, jnp.zeros((7, 2)), 4, 0.0).shape
    (7, 2, 2)
    """
    return covariance_from_sqrt(wishart_sqrt(W, x, degree), diag_term)


def small_cholesky(S: jnp.ndarray) -> jnp.ndarray:
    """Cholesky factors of a batch of small matrices ``(..., d, d)``, unrolled.

    Elementwise arithmetic over the batch instead of one LAPACK call per
    matrix: faster for ``d <= 3``, and it avoids jaxlib 0.10's CPU runtime
    hanging on the gradient of batched ``cholesky``/``solve_triangular``
    beyond about 28,000 matrices.
    """
    d = S.shape[-1]
    L = [[None] * d for _ in range(d)]
    for j in range(d):
        diag = S[..., j, j] - sum(L[j][k] ** 2 for k in range(j))
        L[j][j] = jnp.sqrt(diag)
        for i in range(j + 1, d):
            off = S[..., i, j] - sum(L[i][k] * L[j][k] for k in range(j))
            L[i][j] = off / L[j][j]
    zero = jnp.zeros_like(S[..., 0, 0])
    return jnp.stack([jnp.stack([L[i][j] if j <= i else zero for j in range(d)], -1)
                      for i in range(d)], -2)


def lower_solve(L: jnp.ndarray, B: jnp.ndarray) -> jnp.ndarray:
    """``L^{-1} B`` for lower-triangular ``L`` ``(..., d, d)``, ``B`` ``(..., d, m)``.

    Forward substitution, unrolled like :func:`small_cholesky`.
    """
    d = L.shape[-1]
    rows = []
    for i in range(d):
        r = B[..., i, :] - sum(L[..., i, k, None] * rows[k] for k in range(i))
        rows.append(r / L[..., i, i, None])
    return jnp.stack(rows, -2)
