r"""Repeated MAP + Laplace refits at a fixed cost, for adaptive sessions.

An adaptive experiment refits after every few answers, so the trial count
grows by a few at a time. :func:`map_laplace_refit` pads the trials to a
bucket size (:func:`bucket_size`) and masks the padding, so one compiled
program serves every refit up to that size, and runs, inside that one
program, a warm-started optax Adam loop on the model's log posterior (the
same density as :func:`~psyphy_numpyro.core.numpyro_model.wppm_model`) and
the generalised Gauss-Newton precision at its end,

.. math:: H = -\nabla^2 \log p(\theta) + J^T \operatorname{diag}(m_n p_n (1 - p_n)) J,

with :math:`J` the Jacobian of the trials' log-odds (forward mode: there are
fewer parameters than trials) and :math:`m_n` the mask. Adam, not SGD with
momentum: warm starts want few steps that are robust to the full WPPM's
stiff high-order weights, with no learning rate to tune per data size.

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
from psyphy_numpyro.core.oddity.gaussian_mc import GaussianDraws
from psyphy_numpyro.core.trials import Trials

_MIN_BUCKET = 256


class RefitResult(NamedTuple):
    """The end of a refit: the MAP, its loss path and the precision there."""

    params: dict
    losses: jnp.ndarray
    precision: jnp.ndarray


def bucket_size(num_trials: int) -> int:
    """Padded size for ``num_trials``: at least 256, then steps of a quarter power of 2.

    Examples
    --------
    >>> [bucket_size(n) for n in (1, 256, 257, 2000, 2049)]
    [256, 256, 320, 2048, 2560]
    """
    num_trials = check.positive_int("num_trials", num_trials)
    if num_trials <= _MIN_BUCKET:
        return _MIN_BUCKET
    base = 2 ** (math.ceil(math.log2(num_trials)) - 1)
    return next(base * k // 4 for k in (5, 6, 7, 8) if base * k // 4 >= num_trials)


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


def map_laplace_refit(
    spec: Any,
    init_params: dict,
    trials: Trials,
    mask: Any,
    mc_samples: Any = None,
    *,
    num_steps: int,
    learning_rate: float,
) -> RefitResult:
    """Warm-started MAP and the Gauss-Newton precision there, in one compiled call.

    Parameters
    ----------
    spec
        The model specification.
    init_params
        Starting point (normally the previous refit's MAP).
    trials, mask
        Padded trials and the mask of the real ones (:func:`pad_trials`).
    mc_samples
        Full WPPM with a Monte Carlo rule: fixed draws for the padded trials.
    num_steps, learning_rate
        Adam steps and step size.

    Returns
    -------
    RefitResult
        ``precision`` over ``ravel_pytree(params)``, shape ``(P, P)``.
    """
    num_steps = check.positive_int("num_steps", num_steps, minimum=0)
    learning_rate = check.positive("learning_rate", learning_rate)
    params = spec.prior.check_params(init_params, "init_params")
    mask = jnp.asarray(mask, jnp.float32)
    if mask.shape != (trials.ref.shape[0],):
        raise ValueError(f"mask must have shape ({trials.ref.shape[0]},), got {mask.shape}.")
    return _refit(spec, params, trials.ref, trials.probe, trials.responses, mask,
                  mc_samples, num_steps=num_steps, learning_rate=learning_rate)


@partial(jax.jit, static_argnames=("spec", "num_steps", "learning_rate"))
def _refit(spec, params, ref, probe, responses, mask, mc_samples, *, num_steps,
           learning_rate):
    flat0, unravel = ravel_pytree(params)
    site, prior = spec.prior.site, spec.prior.distribution()
    scale = 1.0 / jnp.maximum(mask.sum(), 1.0)

    def logits(v):
        return spec.trial_logits(unravel(v), ref, probe, mc_samples)

    def neg_log_prior(v):
        return -prior.log_prob(unravel(v)[site])

    def loss(v):
        log_lik = dist.Bernoulli(logits=logits(v)).log_prob(responses)
        return scale * (neg_log_prior(v) - jnp.sum(mask * log_lik))

    optimizer = optax.adam(learning_rate)

    def step(carry, _):
        v, state = carry
        value, grad = jax.value_and_grad(loss)(v)
        updates, state = optimizer.update(grad, state, v)
        return (optax.apply_updates(v, updates), state), value

    (flat, _), losses = jax.lax.scan(step, (flat0, optimizer.init(flat0)), None,
                                     length=num_steps)
    J = jax.jacfwd(logits)(flat)
    p = jax.nn.sigmoid(logits(flat))
    precision = jax.hessian(neg_log_prior)(flat) + (J.T * (mask * p * (1.0 - p))) @ J
    return RefitResult(unravel(flat), losses, precision)
