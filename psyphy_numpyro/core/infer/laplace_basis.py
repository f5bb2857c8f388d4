r"""NUTS in the eigenbasis of the Laplace approximation (``precondition="laplace"``).

NumPyro's NUTS adapts a diagonal mass matrix: one scale per coordinate. The
full WPPM's weights are strongly correlated a posteriori, so in their own
coordinates NUTS needs long trajectories. Write the Hessian of the
potential (the negative log density) at the mode as :math:`H = V
\operatorname{diag}(\lambda) V^T` and sample

.. math:: z = \operatorname{diag}(\lambda)^{1/2} V^T (x - \hat x)

instead of :math:`x`. Where the Laplace approximation holds, ``z`` is close to
standard normal; the warm-up's diagonal adaptation then corrects the scale
along each of the Hessian's axes where it does not. The map is linear, with
a constant Jacobian, so the posterior of ``x`` is exactly the same
(NumPyro's :class:`~numpyro.infer.reparam.ExplicitReparam`): ``x`` becomes a
deterministic site and ``z`` the sampled one, ``"<site>_base"``.

On the full WPPM at 2,000 trials (``benchmarks/samplers.py``, issue 17) NUTS
took a quarter of the leapfrog steps per iteration this way (31 against 130)
and about half the gradients to a bulk ESS of 400; at 6,000 trials a
300-iteration warm-up did not settle it (``benchmarks/README.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.distributions import constraints
from numpyro.distributions.transforms import Transform
from numpyro.handlers import reparam
from numpyro.infer.reparam import ExplicitReparam
from numpyro.infer.util import potential_energy
from scipy.optimize import minimize

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.laplace import laplace_approximation

#: Suffix NumPyro's ``ExplicitReparam`` gives the sampled site.
BASE_SUFFIX = "_base"


class LinearMap(Transform):
    """The affine map ``y = M (x - shift)`` of vectors, and its inverse.

    Parameters
    ----------
    shift
        ``(k,)``.
    matrix
        Invertible ``(k, k)``.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector

    def __init__(self, shift: Any, matrix: Any) -> None:
        self.shift = jnp.asarray(shift)
        self.matrix = jnp.asarray(matrix, self.shift.dtype)
        self.inverse_matrix = jnp.linalg.inv(self.matrix)
        self.log_det = jnp.linalg.slogdet(self.matrix)[1]

    def __call__(self, x):
        return (x - self.shift) @ self.matrix.T

    def _inverse(self, y):
        return self.shift + y @ self.inverse_matrix.T

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.broadcast_to(self.log_det, jnp.shape(x)[:-1])


def polish_mode(model: Callable[..., None], params: dict, *model_args: Any,
                max_iterations: int = 500, **model_kwargs: Any) -> dict:
    """The mode of ``model``'s density, by L-BFGS (SciPy) from ``params``.

    ``params`` are every latent site's values in NumPyro's unconstrained
    space (e.g. a MAP fit's, which SGD leaves near the mode but not at it).
    """
    flat, unravel = ravel_pytree(params)
    value_and_grad = jax.jit(jax.value_and_grad(
        lambda v, args, kwargs: potential_energy(model, args, kwargs, unravel(v))))

    def fun(v):
        value, grad = value_and_grad(jnp.asarray(v, flat.dtype), model_args,
                                     model_kwargs)
        return float(value), np.asarray(grad, np.float64)

    found = minimize(fun, np.asarray(flat, np.float64), jac=True, method="L-BFGS-B",
                     options={"maxiter": max_iterations})
    return unravel(jnp.asarray(found.x, flat.dtype))


def laplace_basis(model: Callable[..., None], params: dict, site: str, *model_args: Any,
                  **model_kwargs: Any) -> LinearMap | None:
    """The map to ``site``'s Laplace eigenbasis at the mode near ``params``.

    Parameters
    ----------
    model
        A NumPyro model whose ``site`` is a real vector.
    params
        Every latent site's start (unconstrained), near the mode.
    site
        The site to sample in the eigenbasis.

    Returns
    -------
    LinearMap or None
        ``z = diag(lambda)^(1/2) V^T (x - mode)`` from the eigenvectors and
        eigenvalues of ``site``'s block of the Laplace covariance (inverted:
        ``V diag(lambda)^-1 V^T``); None when the Hessian at the mode is not
        positive definite (then there is no Gaussian to take a basis from).
    """
    if site not in params or jnp.ndim(params[site]) != 1:
        raise ValueError(f"params must hold the site {site!r} as a vector, got "
                         f"{ {name: jnp.shape(v) for name, v in params.items()} }.")
    mode = polish_mode(model, params, *model_args, **model_kwargs)
    with warnings.catch_warnings():  # a None scale says it
        warnings.simplefilter("ignore", RuntimeWarning)
        result = laplace_approximation(model, mode, *model_args, **model_kwargs)
    if result.scale is None:
        return None
    flat = ravel_pytree(mode)[0]
    index = np.asarray(ravel_pytree({name: jnp.full(jnp.shape(value), name == site)
                                     for name, value in mode.items()})[0])
    cov = np.asarray(result.cov)[np.ix_(index, index)]
    lam, vec = np.linalg.eigh(cov)  # eigenvalues of the covariance: 1 / lambda
    return LinearMap(flat[index], (vec / np.sqrt(lam)).T)


def in_basis(model: Callable[..., None], site: str,
             basis: LinearMap) -> Callable[..., None]:
    """``model`` with ``site`` sampled as ``basis(site)``, site ``site + "_base"``."""
    return reparam(model, config={site: ExplicitReparam(basis)})


def laplace_chains(model: Callable[..., None], site: str, start: dict, key: jax.Array,
                   num_chains: int, model_args: tuple, model_kwargs: dict
                   ) -> tuple[Callable[..., None], dict] | None:
    """``model`` in ``site``'s Laplace eigenbasis, and per-chain starts for NUTS.

    Parameters
    ----------
    model
        A NumPyro model.
    site
        The real-vector site to sample in the eigenbasis.
    start
        Every latent site's value near the mode (unconstrained), e.g. a MAP fit's.
    key
        Key of the starts.
    num_chains
        Chains to start.
    model_args, model_kwargs
        The model's arguments (the trials).

    Returns
    -------
    (model, chain_init_params) or None
        The model with ``site + "_base"`` sampled (:func:`in_basis`) and
        starts with a leading ``num_chains`` axis: ``site + "_base"`` drawn
        from the Laplace approximation (standard normal in the eigenbasis),
        every other site at ``start``. None when the Hessian at the mode is
        not positive definite.
    """
    num_chains = check.positive_int("num_chains", num_chains)
    basis = laplace_basis(model, start, site, *model_args, **model_kwargs)
    if basis is None:
        return None
    size, dtype = basis.shift.shape[0], basis.shift.dtype
    draws = jax.random.normal(key, (num_chains, size), dtype)
    chains = {name: jnp.broadcast_to(value, (num_chains, *jnp.shape(value)))
              for name, value in start.items() if name != site}
    return in_basis(model, site, basis), {site + BASE_SUFFIX: draws, **chains}
