r"""Gaussian priors on the WPPM's parameters.

Two parameterisations, chosen by ``basis_degree``:

- MVP (``Prior.default(input_dim, scale)``, ``basis_degree=None``): site
  ``log_diag`` of shape ``(input_dim,)``, each entry ``Normal(0, scale**2)``.
- Full WPPM (``basis_degree`` set): site ``W`` in psyphy 0.0.5's layout
  ``(deg+1,) * input_dim + (input_dim, input_dim + extra_embedding_dims)``;
  the entries of basis function :math:`\phi_{ij}` have variance
  ``variance_scale * decay_rate ** (i + j)``.

For the full WPPM, psyphy 0.0.5 draws ``W`` with the variances above but
evaluates its density with ``1e-10`` added to each variance; we do the same
(:data:`DENSITY_JITTER`), so that prior values agree even at Hong et al.'s
small ``variance_scale`` and high degrees.

Like psyphy, :meth:`Prior.log_prob` leaves out the Gaussian normalising
constant; :attr:`Prior.log_normalizer` holds it, so that ``Prior.log_prob(p)
- Prior.log_normalizer`` is the NumPyro log density.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.basis import SUPPORTED_INPUT_DIMS

#: Added to every prior variance of ``W`` in the density (not in sampling), as psyphy does.
DENSITY_JITTER = 1e-10

_BASIS_DIMS = ("basis_i", "basis_j", "basis_k")


@dataclass(frozen=True)
class Prior:
    """Prior over the WPPM parameters (psyphy 0.0.5's signature, plus the MVP).

    Parameters
    ----------
    input_dim
        Dimension of the stimulus space.
    basis_degree
        Chebyshev degree of the Wishart-process weights; ``None`` for the MVP.
    variance_scale, decay_rate
        Prior variance of the weights is ``variance_scale * decay_rate**deg``.
    extra_embedding_dims
        Columns of ``U(x)`` beyond ``input_dim``.
    scale
        Standard deviation of each ``log_diag`` entry (MVP only).
    """

    input_dim: int = 2
    basis_degree: int | None = 4
    variance_scale: float = 4e-3
    decay_rate: float = 0.4
    extra_embedding_dims: int = 1
    scale: float = 0.5

    def __post_init__(self) -> None:
        check.positive_int("input_dim", self.input_dim)
        check.positive("scale", self.scale)
        if self.basis_degree is not None:
            check.positive_int("basis_degree", self.basis_degree, minimum=0)
            if self.input_dim not in SUPPORTED_INPUT_DIMS:
                raise ValueError(
                    f"the full WPPM supports input_dim in {SUPPORTED_INPUT_DIMS}, "
                    f"got {self.input_dim}."
                )
            check.positive("variance_scale", self.variance_scale)
            check.positive("decay_rate", self.decay_rate)
            check.positive_int("extra_embedding_dims", self.extra_embedding_dims, 0)

    @classmethod
    def default(cls, input_dim: int, scale: float = 0.5) -> Prior:
        """The MVP prior: ``log_diag ~ Normal(0, scale**2)`` per dimension."""
        return cls(input_dim=input_dim, basis_degree=None, scale=scale)

    @property
    def is_mvp(self) -> bool:
        """True for the MVP's ``log_diag`` parameterisation."""
        return self.basis_degree is None

    # -- the one place the prior's maths lives --------------------------------
    @property
    def site(self) -> str:
        """Name of the NumPyro sample site and of the params key."""
        return "log_diag" if self.is_mvp else "W"

    @property
    def embedding_dim(self) -> int:
        """Columns of ``U(x)``: ``input_dim + extra_embedding_dims``."""
        return self.input_dim + self.extra_embedding_dims

    @property
    def event_dims(self) -> list[str]:
        """ArviZ dim names of the parameter's axes."""
        if self.is_mvp:
            return ["dim"]
        return [*_BASIS_DIMS[: self.input_dim], "dim", "embed"]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the parameter array."""
        if self.is_mvp:
            return (self.input_dim,)
        basis = (self.basis_degree + 1,) * self.input_dim
        return basis + (self.input_dim, self.embedding_dim)

    def stddev(self) -> np.ndarray:
        """Prior standard deviation of every parameter entry (shape :attr:`shape`).

        A numpy constant, so it stays concrete inside ``jit``.
        """
        if self.is_mvp:
            return np.full(self.shape, self.scale, dtype=np.float32)
        degree = np.indices((self.basis_degree + 1,) * self.input_dim).sum(0)
        sd = np.sqrt(self.variance_scale * self.decay_rate ** degree.astype(float))
        return np.broadcast_to(sd[..., None, None], self.shape).astype(np.float32)

    def density_stddev(self) -> np.ndarray:
        """Standard deviations of the prior density (:data:`DENSITY_JITTER` added)."""
        if self.is_mvp:
            return self.stddev()
        var = self.stddev().astype(float) ** 2 + DENSITY_JITTER
        return np.sqrt(var).astype(np.float32)

    def distribution(self) -> dist.Distribution:
        """The prior density as a NumPyro distribution over the whole parameter array."""
        return dist.Normal(0.0, self.density_stddev()).to_event(len(self.shape))

    # -- psyphy's API -----------------------------------------------------------
    def sample_params(self, key: jax.Array) -> dict[str, jnp.ndarray]:
        """Draw a parameter PyTree, e.g. ``{"log_diag": (input_dim,)}`` or ``{"W": ...}``."""
        return {self.site: self.stddev() * jax.random.normal(key, self.shape)}

    def check_params(self, params: dict, name: str = "params") -> dict:
        """Check a parameter dict's key, shape and values; return it as jnp arrays."""
        if not isinstance(params, dict) or set(params) != {self.site}:
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"{name} must be a dict with the key {self.site!r}, got {got}.")
        value = params[self.site]
        if isinstance(value, jax.core.Tracer):  # inside jit/grad: the shape only
            shape = value.shape
        else:
            value = check.finite_array(f"{name}[{self.site!r}]", value)
            shape = value.shape
        if shape != self.shape:
            raise ValueError(
                f"{name}[{self.site!r}] must have shape {self.shape}, got {shape}."
            )
        return {self.site: jnp.asarray(value, dtype=jnp.float32)}

    def log_prob(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        """Log prior density without the normalising constant (psyphy's value)."""
        # the density's quadratic term, computed directly (adding the constant
        # back to NumPyro's normalised value would cancel badly in float32)
        z = params[self.site] / self.density_stddev()
        return -0.5 * jnp.sum(z**2)

    @property
    def log_normalizer(self) -> float:
        """The constant psyphy drops: ``sum(log sd) + n log(2 pi) / 2``."""
        n = math.prod(self.shape)
        log_sd = float(np.sum(np.log(self.density_stddev().astype(float))))
        return log_sd + 0.5 * n * math.log(2.0 * math.pi)
