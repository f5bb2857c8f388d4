"""Noise models of the observer's internal representation.

For the full WPPM's Monte Carlo oddity rule, a noise model supplies the
standard draws of the internal samples (:meth:`draws`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.oddity.psyphy_draws import (
    standard_normal_draws,
    student_t_draws,
)


@dataclass(frozen=True)
class GaussianNoise:
    """Additive Gaussian noise.

    Parameters
    ----------
    sigma
        Standard deviation. Neither the MVP's closed-form tasks nor psyphy
        0.0.5's Monte Carlo rule use it (the covariance field sets the noise);
        it is kept so psyphy scripts port unchanged.
    """

    sigma: float = 1.0

    def __post_init__(self) -> None:
        check.positive("sigma", self.sigma)

    def log_prob(self, residual: jnp.ndarray) -> jnp.ndarray:
        """Log density of :math:`N(0, \\sigma^2)` at ``residual`` (psyphy's method)."""
        return dist.Normal(0.0, self.sigma).log_prob(residual)

    def sample_standard(self, key: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
        """Standard normal draws of ``shape`` (psyphy's method)."""
        return jax.random.normal(key, shape)

    def draws(self, key: jax.Array, num_trials: int | None, num_samples: int,
              embedding_dim: int, input_dim: int) -> jnp.ndarray:
        """Standard normal draws for :func:`psyphy_numpyro.core.oddity.psyphy_draws.oddity_p_correct`."""
        return standard_normal_draws(key, num_trials, num_samples, embedding_dim, input_dim)


@dataclass(frozen=True)
class StudentTNoise:
    """Heavy-tailed noise: independent unit Student-t draws per coordinate.

    Parameters
    ----------
    df
        Degrees of freedom.
    scale
        Kept for psyphy's signature; as in psyphy 0.0.5 the draws are unit-scale.
    """

    df: float = 3.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        check.positive("df", self.df)
        check.positive("scale", self.scale)

    def log_prob(self, residual: jnp.ndarray) -> jnp.ndarray:
        """Log density of the Student-t with ``df`` and ``scale`` at ``residual``."""
        return dist.StudentT(self.df, 0.0, self.scale).log_prob(residual)

    def sample_standard(self, key: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
        """Unit Student-t draws of ``shape`` with ``df`` degrees of freedom (psyphy's)."""
        return jax.random.t(key, self.df, shape)

    def draws(self, key: jax.Array, num_trials: int | None, num_samples: int,
              embedding_dim: int, input_dim: int) -> jnp.ndarray:
        """Student-t draws for :func:`psyphy_numpyro.core.oddity.psyphy_draws.oddity_p_correct`."""
        return student_t_draws(key, num_trials, num_samples, embedding_dim, input_dim,
                               df=self.df)
