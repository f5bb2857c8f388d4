r"""Chebyshev tensor-product basis of the Wishart process, as pure ``jax.numpy``.

The WPPM writes the square root of the noise covariance as a weighted sum of
products of Chebyshev polynomials, one factor per stimulus dimension,

.. math:: \phi_{ij}(x) = T_i(x_1)\, T_j(x_2), \qquad
          T_0 = 1,\; T_1 = x,\; T_{n+1} = 2x\,T_n - T_{n-1},

with the 1-D and 3-D cases built the same way. Inputs are expected in the
Chebyshev domain :math:`[-1, 1]` per dimension; these functions do not rescale
or check them (checking belongs before tracing, in the model layer).

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import jax.numpy as jnp

SUPPORTED_INPUT_DIMS = (1, 2, 3)


def _check_degree(degree: int) -> int:
    if isinstance(degree, bool) or int(degree) != degree or degree < 0:
        raise ValueError(
            f"degree must be a non-negative integer, got {degree!r}; "
            "pass e.g. degree=4 for T_0..T_4."
        )
    return int(degree)


def _check_input_dim(input_dim: int) -> int:
    if input_dim not in SUPPORTED_INPUT_DIMS:
        raise ValueError(
            f"The Wishart basis supports input_dim in {SUPPORTED_INPUT_DIMS}, "
            f"got {input_dim}; reshape stimuli to (..., input_dim)."
        )
    return int(input_dim)


def chebyshev_basis(x: jnp.ndarray, degree: int) -> jnp.ndarray:
    """Chebyshev polynomials ``T_0 .. T_degree`` evaluated elementwise.

    Parameters
    ----------
    x
        Points, any shape ``(...,)``; integer inputs are promoted to float.
    degree
        Highest polynomial degree (a static Python int, ``>= 0``).

    Returns
    -------
    jnp.ndarray
        Shape ``(..., degree + 1)``; entry ``[..., n]`` is ``T_n(x)``.

    Examples
    --------
    >>> chebyshev_basis(jnp.array([0.5]), 3).tolist()
    [[1.0, 0.5, -0.5, -1.0]]
    """
    degree = _check_degree(degree)
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    terms = [jnp.ones_like(x), x][: degree + 1]
    for _ in range(2, degree + 1):
        terms.append(2.0 * x * terms[-1] - terms[-2])
    return jnp.stack(terms, axis=-1)


def basis_functions(x: jnp.ndarray, degree: int) -> jnp.ndarray:
    r"""Tensor-product Chebyshev basis :math:`\phi_{ij\ldots}(x)`.

    Parameters
    ----------
    x
        Points, shape ``(..., input_dim)`` with ``input_dim`` in 1, 2 or 3.
    degree
        Highest degree per dimension (static Python int).

    Returns
    -------
    jnp.ndarray
        Shape ``(...,) + (degree + 1,) * input_dim``; for ``input_dim = 2``
        entry ``[..., i, j]`` is ``T_i(x_1) T_j(x_2)``.

    Examples
    --------
    >>> basis_functions(jnp.zeros((5, 2)), 4).shape
    (5, 5, 5)
    """
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError("x must have shape (..., input_dim); got a scalar.")
    input_dim = _check_input_dim(x.shape[-1])
    cheb = chebyshev_basis(x, degree)  # (..., input_dim, degree + 1)
    phi = cheb[..., 0, :]
    for k in range(1, input_dim):
        phi = phi[..., None] * cheb[..., k, :].reshape(
            cheb.shape[:-2] + (1,) * k + (degree + 1,)
        )
    return phi


def total_degree(degree: int, input_dim: int) -> jnp.ndarray:
    """Total degree ``i + j (+ k)`` of every tensor-product basis function.

    The WPPM prior shrinks a weight by ``decay_rate ** total_degree``.

    Parameters
    ----------
    degree
        Highest degree per dimension.
    input_dim
        Number of stimulus dimensions (1, 2 or 3).

    Returns
    -------
    jnp.ndarray
        Integer array of shape ``(degree + 1,) * input_dim``.

    Examples
    --------
    >>> total_degree(2, 2).tolist()
    [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    """
    degree = _check_degree(degree)
    input_dim = _check_input_dim(input_dim)
    return jnp.indices((degree + 1,) * input_dim).sum(axis=0)
