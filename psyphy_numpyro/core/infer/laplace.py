r"""The Laplace approximation at the MAP: a Gaussian from the curvature.

:class:`LaplaceApproximation` is psyphy's interface, ``from_map(map_fit,
data)``; the functional core is :func:`laplace_approximation` (any NumPyro
model) and :func:`gaussian_from_precision`. The Gaussian is
:math:`\mathcal N(\hat\theta, H^{-1})` at the MAP :math:`\hat\theta`, with
:math:`H` one of

- ``"exact"``: the Hessian of the negative log posterior, NumPyro's potential
  energy of ``model.numpyro_model`` on the trials (the density NUTS samples),
  by reverse-over-reverse differentiation;
- ``"fisher"``: the generalised Gauss-Newton matrix, the prior's Hessian plus
  the Fisher information of the Bernoulli trials,
  :math:`J^T \operatorname{diag}(p_n (1 - p_n)) J` with :math:`J` the
  Jacobian of the trials' log-odds. It leaves out the term
  :math:`\sum_n (y_n - p_n) \nabla^2 \eta_n`, so it is positive definite
  at any point and needs only first derivatives of p(correct).

The exact Hessian is the default for the MVP. For the full WPPM the Fisher
matrix is: the Monte Carlo p(correct) with fixed draws is a sum of steep
sigmoids (``bandwidth``), whose second derivatives are large and of either
sign, so the exact Hessian at a MAP found with fresh draws is typically
indefinite.

The full WPPM's density does not change when ``W`` is rotated in its
embedding, ``W -> W R``: ``U(x) U(x)^T`` and the prior are unchanged (with
fixed Monte Carlo draws, up to Monte Carlo error). Its curvature is
therefore (nearly) zero along the ``e (e - 1) / 2`` rotation directions of an
``e``-column embedding. By default the approximation puts no mass along them:
its draws keep the MAP's orientation to first order, which leaves every
covariance field :math:`\Sigma(x)` unaffected.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import potential_energy

from psyphy_numpyro.core.lapse import constrain_lapse, unconstrained_lapse_log_prior
from psyphy_numpyro.core.trials import Trials

#: Curvature matrices :class:`LaplaceApproximation` can use.
HESSIANS = ("exact", "fisher")

# parameter directions differentiated at once: bounds memory on large studies
_DIRECTIONS_PER_PASS = 8


class LaplaceResult(NamedTuple):
    """A Gaussian approximation, from :func:`gaussian_from_precision`.

    Attributes
    ----------
    mean
        The expansion point (the MAP), per site.
    precision
        The curvature matrix :math:`H` in the flattened parameters
        (``jax.flatten_util.ravel_pytree`` order), shape ``(P, P)``.
    cov
        The Gaussian's covariance, ``(P, P)``: the inverse of ``precision``
        on the complement of ``null_directions``, zero along them.
    scale
        ``(P, k)`` with ``scale @ scale.T == cov``, or None when ``precision``
        is not positive definite there (then there is no Gaussian to draw from).
    null_directions
        Orthonormal ``(P, g)`` directions given no mass (``g`` may be 0).
    eigenvalues
        Eigenvalues of ``precision`` on the complement, ascending.
    """

    mean: dict
    precision: np.ndarray
    cov: np.ndarray
    scale: np.ndarray | None
    null_directions: np.ndarray
    eigenvalues: np.ndarray


def gaussian_from_precision(
    mean: dict, precision: Any, null_directions: Any = None
) -> LaplaceResult:
    """The Gaussian with ``mean`` and inverse covariance ``precision``.

    Parameters
    ----------
    mean
        Parameters per site; ``precision`` is over ``ravel_pytree(mean)``.
    precision
        Symmetric ``(P, P)`` matrix (symmetrised here).
    null_directions
        Optional ``(P, g)`` directions to give no mass; ``precision`` is
        inverted on their orthogonal complement.

    Returns
    -------
    LaplaceResult

    Warns
    -----
    RuntimeWarning
        When ``precision`` is not positive definite on the complement
        (``mean`` is not a local maximum); ``scale`` is then None.
    """
    H = np.asarray(precision, dtype=np.float64)
    size = ravel_pytree(mean)[0].shape[0]
    if H.shape != (size, size):
        raise ValueError(
            f"precision must have shape ({size}, {size}) for these parameters, "
            f"got {H.shape}."
        )
    if not np.all(np.isfinite(H)):
        raise ValueError(
            "the curvature of the log density is not finite at the MAP; check "
            "that it is a point of finite density (e.g. a converged fit)."
        )
    H = 0.5 * (H + H.T)
    if null_directions is None:
        null = np.zeros((size, 0))
    else:
        null = np.asarray(null_directions, dtype=np.float64).reshape(size, -1)
    # Householder QR: the columns after the first g span the complement
    q, _ = np.linalg.qr(np.concatenate([null, np.eye(size)], axis=1))
    basis = q[:, null.shape[1] :]
    lam, vec = np.linalg.eigh(basis.T @ H @ basis)
    scale = None
    if lam[0] > 0:
        scale = basis @ (vec / np.sqrt(lam))
    else:
        warnings.warn(
            f"the curvature of the negative log posterior has {int(np.sum(lam <= 0))} "
            f"non-positive eigenvalue(s) (smallest {lam[0]:.3g}): the point is not "
            "a local maximum, and the Laplace approximation cannot be sampled. Run "
            'the MAP fit longer, or use hessian="fisher".',
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore"):  # an exactly singular matrix gives inf
        cov = basis @ (vec / lam) @ vec.T @ basis.T
    return LaplaceResult(mean, H, cov, scale, null, lam)


def _jacobian(fn: Callable, flat: jnp.ndarray) -> jnp.ndarray:
    """Jacobian ``(*out, P)`` of ``fn`` at ``flat``, by reverse mode only.

    Its columns come from the transpose of the VJP, a few directions per
    pass (bounding memory on large studies); no JVP is needed, as the Monte
    Carlo kernel of :mod:`psyphy_numpyro.core.oddity.gaussian_mc` defines a custom VJP only.
    """
    out, vjp = jax.vjp(fn, flat)
    jvp = jax.linear_transpose(vjp, out)
    columns = jax.lax.map(
        lambda t: jvp((t,))[0],
        jnp.eye(flat.shape[0], dtype=flat.dtype),
        batch_size=min(_DIRECTIONS_PER_PASS, flat.shape[0]),
    )
    return jnp.moveaxis(columns, 0, -1)


def laplace_approximation(
    model: Callable[..., None],
    params: dict,
    *model_args: Any,
    null_directions: Any = None,
    **model_kwargs: Any,
) -> LaplaceResult:
    r"""Gaussian approximation (a :class:`LaplaceResult`) of a posterior at ``params``.

    The precision is the exact Hessian of NumPyro's potential energy (the
    negative log joint) in the flattened parameters, by reverse-over-reverse
    differentiation, a few directions per pass. All sites must be
    real-valued (unconstrained), as the WPPM's are.

    Parameters
    ----------
    model
        A NumPyro model with a deterministic density given
        ``model_args``/``model_kwargs``.
    params
        The expansion point, normally the MAP, per latent site.
    null_directions
        See :func:`gaussian_from_precision`.

    Examples
    --------
    >>> import numpyro, numpyro.distributions as dist
    >>> def model():
    ...     numpyro.sample("x", dist.Normal(1.0, 2.0).expand([2]).to_event(1))
    >>> res = laplace_approximation(model, {"x": jnp.ones(2)})
    >>> np.round(res.cov, 3).tolist()
    [[4.0, 0.0], [0.0, 4.0]]
    """
    flat, unravel = ravel_pytree(params)

    @jax.jit
    def hessian(flat, args, kwargs):
        def energy(v):
            return potential_energy(model, args, kwargs, unravel(v))

        return _jacobian(jax.grad(energy), flat)

    H = hessian(flat, model_args, model_kwargs)
    return gaussian_from_precision(params, H, null_directions)


def fisher_precision(
    model: Any, params: dict, trials: Trials, mc_samples: Any = None
) -> np.ndarray:
    r"""Generalised Gauss-Newton precision of a WPPM's posterior at ``params``.

    :math:`-\nabla^2 \log p(\theta) + J^T \operatorname{diag}(p_n(1-p_n)) J`,
    with :math:`J` the Jacobian of the trials' log-odds
    (:meth:`WPPM.trial_logits`) and :math:`p_n` their p(correct); the
    responses do not enter. Parameters flattened by ``ravel_pytree``.

    Parameters
    ----------
    model
        The WPPM.
    params
        The expansion point, in NumPyro's unconstrained space (an inferred
        lapse rate as its logit, :func:`~psyphy_numpyro.core.lapse.unconstrain_lapse`).
    trials
        The trials' stimuli (:class:`~psyphy_numpyro.core.trials.Trials`).
    mc_samples
        Full WPPM: fixed Monte Carlo draws (:meth:`WPPM.draw_mc_samples`).

    Returns
    -------
    numpy.ndarray
        ``(P, P)``, positive definite.
    """
    flat, unravel = ravel_pytree(params)
    site = model.prior.site

    @jax.jit
    def precision(flat, ref, probe, mc_samples):
        def logits(v):
            return model.trial_logits(constrain_lapse(model, unravel(v)), ref, probe,
                                      mc_samples)

        def neg_log_prior(v):
            params = unravel(v)
            return -(model.prior.distribution().log_prob(params[site])
                     + unconstrained_lapse_log_prior(model, params))

        J = _jacobian(logits, flat)  # (N, P)
        p = jax.nn.sigmoid(logits(flat))
        return jax.hessian(neg_log_prior)(flat) + (J.T * (p * (1.0 - p))) @ J

    return np.asarray(precision(flat, trials.ref, trials.probe, mc_samples))


def rotation_directions(params: dict, site: str | tuple[str, ...] = "W") -> np.ndarray:
    """Directions in which rotating ``W`` in its embedding moves it, orthonormal.

    The tangents ``W A`` for the ``e (e - 1) / 2`` generators ``A`` of
    rotations of the last axis (size ``e``), flattened as
    ``ravel_pytree(params)`` flattens, then orthonormalised; directions that
    vanish (e.g. at ``W = 0``) are dropped. Several sites (a population's
    ``W_pop`` and ``W_dev``) turn together, by one rotation.
    """
    sites = (site,) if isinstance(site, str) else tuple(site)
    values = {name: np.asarray(params[name], dtype=np.float64) for name in sites}
    e = values[sites[0]].shape[-1]
    tangents = []
    for a in range(e):
        for b in range(a + 1, e):
            A = np.zeros((e, e))
            A[a, b], A[b, a] = 1.0, -1.0
            t = {k: np.zeros(np.shape(v)) for k, v in params.items()}
            for name, W in values.items():
                t[name] = W @ A
            tangents.append(np.asarray(ravel_pytree(t)[0], dtype=np.float64))
    size = ravel_pytree(params)[0].shape[0]
    if not tangents:
        return np.zeros((size, 0))
    u, s, _ = np.linalg.svd(np.stack(tangents, axis=1), full_matrices=False)
    return u[:, s > 1e-6 * max(float(s.max()), 1e-30)]
