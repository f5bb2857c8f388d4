r"""Repeated MAP + Laplace refits at a fixed cost, for adaptive sessions.

An adaptive experiment refits after every few answers, so the trial count
grows by a few at a time. :func:`map_laplace_refit` pads the trials to a
bucket size (:func:`bucket_size`) and masks the padding, so one compiled
program serves every refit up to that size, and runs, inside that one
program, optax Adam steps from a cold start and Gauss-Newton steps on the
model's log posterior (the same density as
:func:`~psyphy_numpyro.core.numpyro_model.wppm_model`), with the generalised
Gauss-Newton precision at the end,

.. math:: H = -\nabla^2 \log p(\theta) + J^T \operatorname{diag}(m_n p_n (1 - p_n)) J,

with :math:`J` the Jacobian of the trials' log-odds, lapses included
(:func:`logit_jacobian`: one reverse pass for the full WPPM) and :math:`m_n`
the mask. Newton steps with this curvature converge from a warm start in a
few iterations where first-order steps (SGD or Adam) need hundreds on the
full WPPM's stiff high-order weights; Adam only brings a cold start near the
optimum. An inferred lapse rate is fitted on its logit, as NumPyro samples it.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import optax
from jax.flatten_util import ravel_pytree

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.basis import basis_functions
from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.core.lapse import (
    LAPSE_SITE,
    constrain_lapse,
    unconstrain_lapse,
    unconstrained_lapse_log_prior,
)
from psyphy_numpyro.core.oddity.gaussian_mc import GaussianDraws
from psyphy_numpyro.core.trials import Trials

_MIN_BUCKET = 256


class RefitResult(NamedTuple):
    """The end of a refit: the MAP, its loss path and the precision there.

    ``params`` and ``precision`` are in NumPyro's unconstrained space (an
    inferred lapse rate as its logit), the coordinates of the Gaussian.
    """

    params: dict
    losses: jnp.ndarray
    precision: jnp.ndarray


def bucket_size(num_trials: int) -> int:
    """Padded size for ``num_trials``: the next power of 2, at least 256.

    Powers of 2 keep the compilations of a growing session few (four up to
    2,048 trials); a warm refit costs so little that padding up to twice the
    trials is cheaper than compiling more often.

    Examples
    --------
    >>> [bucket_size(n) for n in (1, 256, 257, 2000, 2049)]
    [256, 256, 512, 2048, 4096]
    """
    num_trials = check.positive_int("num_trials", num_trials)
    return max(_MIN_BUCKET, 2 ** math.ceil(math.log2(num_trials)))


def pad_trials(trials: Trials, size: int) -> tuple[Trials, np.ndarray]:
    """``trials`` padded to ``size`` rows (copies of the first, answer 0) and the mask."""
    n = trials.ref.shape[0]
    if size < n:
        raise ValueError(f"size={size} is smaller than the {n} trials.")
    extra = size - n

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[:1], extra, axis=0)])

    mask = np.concatenate([np.ones(n, np.float32), np.zeros(extra, np.float32)])
    responses = np.concatenate([np.asarray(trials.responses), np.zeros(extra,
                               np.asarray(trials.responses).dtype)])
    return Trials(pad(trials.ref), pad(trials.probe), responses), mask


def first_trials(mc_samples: Any, n: int) -> Any:
    """The fixed Monte Carlo draws of the first ``n`` trials of a padded set."""
    if mc_samples is None:
        return None
    if isinstance(mc_samples, GaussianDraws):
        rotations = mc_samples.rotations
        return mc_samples._replace(rotations=None if rotations is None else rotations[:n])
    return mc_samples[:n]


def logit_jacobian(spec: Any, params: dict, ref, probe, mc_samples=None) -> jnp.ndarray:
    """Jacobian of the trials' log-odds in ``ravel_pytree(params)``, shape ``(N, P)``.

    ``params`` are in NumPyro's unconstrained space (an inferred lapse rate as
    its logit, :func:`~psyphy_numpyro.core.lapse.unconstrain_lapse`) and the
    log-odds are the answers', lapses included. For the full WPPM, one reverse
    pass through :meth:`WPPMSpec.p_correct_factors` gives each trial's gradient
    in its own :math:`U(x)` rows; the basis, linear in ``W``, carries it to the
    weights. The MVP uses forward mode.
    """
    flat, unravel = ravel_pytree(params)
    if spec.is_mvp:
        return jax.jacfwd(lambda v: spec.trial_logits(constrain_lapse(spec, unravel(v)),
                                                      ref, probe, mc_samples))(flat)
    site, deg = spec.prior.site, spec.basis_degree

    def answer_logits(p, params):
        return spec.answer_logits(constrain_lapse(spec, params), p)

    p, pullback = jax.vjp(
        lambda U_ref, U_probe: spec.p_correct_factors(U_ref, U_probe, ref, probe,
                                                      mc_samples),
        wishart_sqrt(params[site], ref, deg), wishart_sqrt(params[site], probe, deg))
    _, slope = jax.jvp(lambda p: answer_logits(p, params), (p,), (jnp.ones_like(p),))
    G_ref, G_probe = pullback(slope)
    idx = "ijk"[: spec.input_dim]
    rows = {site: jnp.einsum(f"n{idx},nde->n{idx}de", basis_functions(ref, deg), G_ref)
            + jnp.einsum(f"n{idx},nde->n{idx}de", basis_functions(probe, deg), G_probe)}
    if spec.infers_lapse:
        tangent = {k: jnp.zeros_like(v) for k, v in params.items()}
        tangent[LAPSE_SITE] = jnp.ones_like(params[LAPSE_SITE])
        _, rows[LAPSE_SITE] = jax.jvp(lambda q: answer_logits(p, q), (params,), (tangent,))
    return jax.vmap(lambda row: ravel_pytree(row)[0])(rows)


def map_laplace_refit(
    spec: Any,
    init_params: dict,
    trials: Trials,
    mask: Any,
    mc_samples: Any = None,
    *,
    num_steps: int,
    learning_rate: float,
    newton_steps: int = 4,
) -> RefitResult:
    """MAP from a start and the Gauss-Newton precision there, in one compiled call.

    ``num_steps`` Adam steps (for a cold start), then ``newton_steps``
    Gauss-Newton steps :math:`\theta - H^{-1} \nabla`, each taking the best of
    the step lengths 1, 1/2, 1/4, 1/10 and 0, so the loss never rises. From a
    warm start a few Newton steps converge.

    Parameters
    ----------
    spec
        The model specification.
    init_params
        Starting point (normally the previous refit's MAP), constrained as
        :meth:`WPPMSpec.check_params` takes it; a lapse rate is fitted on its
        logit.
    trials, mask
        Padded trials and the mask of the real ones (:func:`pad_trials`).
    mc_samples
        Full WPPM with a Monte Carlo rule: fixed draws for the padded trials.
    num_steps, learning_rate
        Adam steps and step size.
    newton_steps
        Gauss-Newton steps after them.

    Returns
    -------
    RefitResult
        ``precision`` over ``ravel_pytree(params)``, shape ``(P, P)``: the
        Gauss-Newton matrix, or for the MVP the exact Hessian (its steps use
        the Gauss-Newton matrix, which is positive definite everywhere).
    """
    num_steps = check.iterations("num_steps", num_steps, minimum=0)
    newton_steps = check.positive_int("newton_steps", newton_steps, minimum=0)
    learning_rate = check.positive("learning_rate", learning_rate)
    params = unconstrain_lapse(spec, spec.check_params(init_params, "init_params"))
    if np.shape(mask) != (trials.ref.shape[0],):
        raise ValueError(f"mask must have shape ({trials.ref.shape[0]},), got "
                         f"{np.shape(mask)}.")
    mask = np.asarray(mask, np.float32)
    return _refit(spec, params, trials.ref, trials.probe, trials.responses, mask,
                  mc_samples, num_steps=num_steps, learning_rate=learning_rate,
                  newton_steps=newton_steps)


_STEP_LENGTHS = (1.0, 0.5, 0.25, 0.1, 0.0)


@partial(jax.jit, static_argnames=("spec", "num_steps", "learning_rate", "newton_steps"))
def _refit(spec, params, ref, probe, responses, mask, mc_samples, *, num_steps,
           learning_rate, newton_steps):
    flat0, unravel = ravel_pytree(params)
    site, prior = spec.prior.site, spec.prior.distribution()
    scale = 1.0 / jnp.maximum(mask.sum(), 1.0)

    def neg_log_prior(v):
        params = unravel(v)
        return -(prior.log_prob(params[site]) + unconstrained_lapse_log_prior(spec, params))

    def logits(v):
        return spec.trial_logits(constrain_lapse(spec, unravel(v)), ref, probe, mc_samples)

    def loss(v):
        log_lik = dist.Bernoulli(logits=logits(v)).log_prob(responses)
        return scale * (neg_log_prior(v) - jnp.sum(mask * log_lik))

    def precision(v):
        J = logit_jacobian(spec, unravel(v), ref, probe, mc_samples)
        p = jax.nn.sigmoid(logits(v))
        return jax.hessian(neg_log_prior)(v) + (J.T * (mask * p * (1.0 - p))) @ J

    optimizer = optax.adam(learning_rate)

    def adam_step(carry, _):
        v, state = carry
        value, grad = jax.value_and_grad(loss)(v)
        updates, state = optimizer.update(grad, state, v)
        return (optax.apply_updates(v, updates), state), value

    (flat, _), adam_losses = jax.lax.scan(adam_step, (flat0, optimizer.init(flat0)), None,
                                          length=num_steps)

    def newton_step(v, _):
        value, grad = jax.value_and_grad(loss)(v)
        direction = -jnp.linalg.solve(precision(v), grad / scale)
        tries = jnp.stack([loss(v + t * direction) for t in _STEP_LENGTHS])
        best = jnp.argmin(jnp.where(jnp.isfinite(tries), tries, jnp.inf))
        return v + jnp.asarray(_STEP_LENGTHS)[best] * direction, value

    flat, newton_losses = jax.lax.scan(newton_step, flat, None, length=newton_steps)
    losses = jnp.concatenate([adam_losses, newton_losses])
    # the MVP's few parameters get the exact curvature at the end, as Laplace's
    end = jax.hessian(loss)(flat) / scale if spec.is_mvp else precision(flat)
    return RefitResult(unravel(flat), losses, end)
