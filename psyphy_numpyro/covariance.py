r"""Covariance of the observer's internal noise, as pure ``jax.numpy`` maths.

The MVP model has one covariance for the whole stimulus space,

.. math:: \Sigma = \operatorname{diag}(\exp(\text{log\_diag})),

and the discriminability of a reference ``r`` and a probe ``p`` is the
Mahalanobis length of ``p - r`` under :math:`\Sigma + \epsilon I`.

References
----------
Hong, F. et al. (2025). Comprehensive characterization of human color
discrimination thresholds. eLife RP108943.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["diagonal_covariance", "mahalanobis"]


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
        Lengths, shape ``delta.shape[:-1]``.
    """
    d = delta.shape[-1]
    cov = cov + diag_term * jnp.eye(d, dtype=cov.dtype)
    if cov.ndim == 2:  # one covariance for every delta: a single solve
        flat = delta.reshape(-1, d)
        sol = jnp.linalg.solve(cov, flat.T).T.reshape(delta.shape)
    else:
        cov = jnp.broadcast_to(cov, delta.shape[:-1] + (d, d))
        sol = jnp.linalg.solve(cov, delta[..., None])[..., 0]
    return jnp.sqrt(jnp.sum(delta * sol, axis=-1))
