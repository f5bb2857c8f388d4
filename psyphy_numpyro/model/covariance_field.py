r"""The covariance field :math:`\Sigma(x)` of a WPPM as a callable object.

:class:`WPPMCovarianceField` binds a model to one parameter set and evaluates

.. math:: \Sigma(x) = U(x) U(x)^T + \epsilon I, \qquad
          U(x) = \sum_{ij} W_{ij}\, \phi_{ij}(x)

at one stimulus or any batch of them (the MVP's constant
:math:`\operatorname{diag}(e^{\text{log\_diag}})` is broadcast over the
batch). It has psyphy 0.0.5's interface (``from_prior``, ``from_params``,
``from_posterior``, ``sqrt_cov``, ``sqrt_cov_batch`` and the deprecated
``cov`` / ``cov_batch``), and it is a JAX pytree whose leaves are the
parameters, so ``jax.jit`` and ``jax.vmap`` see through it, e.g. over a
stack of posterior draws:

>>> import jax, jax.numpy as jnp
>>> from psyphy_numpyro import WPPM, Prior
>>> model = WPPM(Prior(input_dim=2, basis_degree=2))
>>> draws = jax.vmap(model.init_params)(jax.random.split(jax.random.PRNGKey(0), 4))
>>> X = jnp.zeros((3, 2))
>>> jax.vmap(lambda p: WPPMCovarianceField(model, p)(X))(draws).shape
(4, 3, 2, 2)

The maths is :func:`psyphy_numpyro.core.covariance.wishart_sqrt` and
:meth:`psyphy_numpyro.WPPM.local_covariance`; nothing is recomputed here.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.model.wppm import WPPM


@runtime_checkable
class CovarianceField(Protocol):
    """Anything that maps stimuli ``(..., d)`` to covariances ``(..., d, d)``."""

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray: ...

    def sqrt_cov(self, x: jnp.ndarray) -> jnp.ndarray: ...

    def cov(self, x: jnp.ndarray) -> jnp.ndarray: ...

    def cov_batch(self, X: jnp.ndarray) -> jnp.ndarray: ...


@partial(jax.jit, static_argnums=0)
def _sigma(model: WPPM, params: dict, x: jnp.ndarray) -> jnp.ndarray:
    d = model.input_dim
    return jnp.broadcast_to(model.local_covariance(params, x), x.shape[:-1] + (d, d))


@partial(jax.jit, static_argnums=0)
def _sqrt(model: WPPM, params: dict, x: jnp.ndarray) -> jnp.ndarray:
    return wishart_sqrt(params["W"], x, model.basis_degree)


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(
        f"WPPMCovarianceField.{name} is deprecated: Use {instead}, which takes one "
        "point or a batch.",
        DeprecationWarning,
        stacklevel=3,
    )


@jax.tree_util.register_pytree_node_class
class WPPMCovarianceField:
    r"""Covariance field :math:`\Sigma(x)` of ``model`` at ``params``.

    Parameters
    ----------
    model
        A :class:`~psyphy_numpyro.WPPM` (MVP or full).
    params
        One parameter set, e.g. ``{"W": ...}`` of shape
        ``model.prior.shape``. For a stack of draws, ``jax.vmap`` over a
        function that builds the field (see the module's example).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from psyphy_numpyro import WPPM, Prior
    >>> model = WPPM(Prior(input_dim=2, basis_degree=3))
    >>> field = WPPMCovarianceField.from_prior(model, jax.random.PRNGKey(0))
    >>> field(jnp.array([0.2, -0.5])).shape, field(jnp.zeros((4, 5, 2))).shape
    ((2, 2), (4, 5, 2, 2))
    >>> field.sqrt_cov(jnp.array([0.2, -0.5])).shape   # (input_dim, embedding_dim)
    (2, 3)
    """

    def __init__(self, model: WPPM, params: dict) -> None:
        if not isinstance(model, WPPM):
            raise TypeError(
                f"model must be a psyphy_numpyro.WPPM, got {type(model).__name__}."
            )
        site, shape = model.prior.site, model.prior.shape
        if not isinstance(params, dict) or site not in params:
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(
                f"params must be a dict with the key {site!r} for this model, "
                f"got {got}."
            )
        value = params[site]
        if isinstance(value, jax.core.Tracer):  # inside jit/vmap: shapes only
            if value.shape != shape:
                raise ValueError(
                    f"params[{site!r}] must have shape {shape}, got {value.shape}."
                )
            params = {site: value}
        else:
            if getattr(value, "shape", None) is not None and value.shape[1:] == shape:
                raise ValueError(
                    f"params[{site!r}] has shape {value.shape}: a stack of draws. "
                    "A field holds one parameter set; use jax.vmap(lambda p: "
                    "WPPMCovarianceField(model, p)(X))(draws) for a stack."
                )
            params = model.prior.check_params({site: value})
        self.model = model
        self.params = params

    # -- pytree: the parameters are leaves, the model is static --------------------
    def tree_flatten(self) -> tuple[tuple[dict], WPPM]:
        return (self.params,), self.model

    @classmethod
    def tree_unflatten(cls, model: WPPM, children: tuple[dict]) -> WPPMCovarianceField:
        field = object.__new__(cls)  # no checks: leaves may be placeholders
        field.model, field.params = model, children[0]
        return field

    # -- constructors (psyphy 0.0.5) ---------------------------------------------
    @classmethod
    def from_prior(cls, model: WPPM, key: jax.Array) -> WPPMCovarianceField:
        """A field drawn from the model's prior (``model.init_params(key)``)."""
        return cls(model, model.init_params(key))

    @classmethod
    def from_params(cls, model: WPPM, params: dict) -> WPPMCovarianceField:
        """A field at the given parameters (same as the constructor)."""
        return cls(model, params)

    @classmethod
    def from_posterior(cls, posterior: Any) -> WPPMCovarianceField:
        """A field at a posterior's point estimate ``posterior.params``.

        ``posterior`` is any object with ``.params`` and ``.model``
        (:class:`~psyphy_numpyro.MAPPosterior`,
        :class:`~psyphy_numpyro.NUTSPosterior`, ...).
        """
        missing = [a for a in ("params", "model") if not hasattr(posterior, a)]
        if missing:
            raise TypeError(
                f"posterior must have .params and .model; {type(posterior).__name__} "
                f"lacks {missing}."
            )
        return cls(posterior.model, posterior.params)

    # -- evaluation ---------------------------------------------------------------
    def _points(self, x: Any, name: str = "x") -> jnp.ndarray:
        d = self.model.input_dim
        if not isinstance(x, jax.core.Tracer):
            x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != d:
            got = "a scalar" if x.ndim == 0 else f"shape {tuple(x.shape)}"
            raise ValueError(
                f"Last axis must be input_dim={d}, got {got} for {name}; pass one "
                f"point of shape ({d},) or a batch of shape (..., {d})."
            )
        if self.model.is_mvp:
            return x
        return self.model.spec.in_domain(name, x)  # finite, inside [-1, 1]

    def __call__(self, x: Any) -> jnp.ndarray:
        """:math:`\\Sigma(x)`: ``(d, d)`` at a point ``(d,)``, else ``(..., d, d)``."""
        return _sigma(self.model, self.params, self._points(x))

    def sqrt_cov(self, x: Any) -> jnp.ndarray:
        """Square root :math:`U(x)`, shape ``(..., input_dim, embedding_dim)``.

        :math:`\\Sigma(x) = U(x) U(x)^T + \\epsilon I`. Full WPPM only: the MVP
        has no Wishart square root.
        """
        if self.model.is_mvp:
            raise ValueError(
                "sqrt_cov needs the full WPPM (a Wishart field, params['W']); this "
                "model is the MVP, whose covariance is diag(exp(log_diag))."
            )
        return _sqrt(self.model, self.params, self._points(x))

    def sqrt_cov_batch(self, X: Any) -> jnp.ndarray:
        """:math:`U(x)` at points ``(n, d)``: shape ``(n, d, embedding_dim)``."""
        X = self._batch(X, "sqrt_cov_batch")
        return self.sqrt_cov(X)

    def cov(self, x: Any) -> jnp.ndarray:
        """Deprecated, as in psyphy 0.0.5: Sigma at one point; use ``field(x)``."""
        _deprecated("cov", "field(x)")
        if jnp.ndim(x) != 1:
            raise ValueError(
                f"cov only accepts single points of shape ({self.model.input_dim},), "
                f"got shape {jnp.shape(x)}; call field(X) for a batch."
            )
        return self(x)

    def cov_batch(self, X: Any) -> jnp.ndarray:
        """Deprecated, as in psyphy 0.0.5: Sigma at a batch; use ``field(X)``."""
        _deprecated("cov_batch", "field(X)")
        return self(self._batch(X, "cov_batch"))

    def _batch(self, X: Any, method: str) -> jnp.ndarray:
        if jnp.ndim(X) < 2:
            raise ValueError(
                f"{method} expects a batch of shape (n_points, "
                f"{self.model.input_dim}), got shape {jnp.shape(X)}; pass one point "
                "to field(x) or sqrt_cov(x)."
            )
        return X

    def __repr__(self) -> str:
        return f"WPPMCovarianceField(model={self.model!r})"
