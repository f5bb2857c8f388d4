r"""Acquisition scores over posterior draws, and greedy batches that condition on them.

Everything here takes ``p``, p(correct) of ``C`` candidate trials under ``S``
equally weighted posterior draws (shape ``(S, C)``), computed with common
random numbers or the quadrature so that the draws differ only by their
parameters.

- :func:`bald_scores`: the mutual information between the next answer and
  the parameters, :math:`H(\bar p) - \overline{H(p)}` with
  :math:`\bar p = \sum_s w_s p_s` (Houlsby et al., 2011).
- :func:`threshold_scores`: the expected fall of the posterior variance of
  per-draw threshold summaries (:func:`threshold_summary`, log contour radii
  at query references) after one answer, computed by reweighting the draws
  with the hypothetical answer, without a refit.
- :func:`linearise` and :func:`linear_threshold_batch`: the same expected
  fall for a Gaussian posterior, with p(correct) and the summaries linear in
  the parameters around the draws' mean; deterministic given the draws, so
  no sampling noise enters the scores, and the batch is picked by exact
  rank-one updates of the covariance (a Bayesian V-optimal design).
- :func:`greedy_batch`: picks a batch one trial at a time. Each pick's
  score is averaged over ``M`` fantasies, each a weighting of the draws
  conditioned on answers to the trials already picked, drawn in turn from the
  posterior predictive; for BALD this is the greedy BatchBALD increment
  (Kirsch et al., 2019), so a batch never repeats one trial's information.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from psyphy_numpyro.core import checks as check

CRITERIA = ("bald", "threshold", "threshold_linear")
"""The acquisition criteria: the first two by :func:`greedy_batch`, the last by
:func:`linear_threshold_batch`."""

_P_EPS = 1e-6  # p(correct) is kept in [eps, 1 - eps] inside the scores


class Batch(NamedTuple):
    """A greedy batch: candidate indices in pick order and each pick's score."""

    index: jnp.ndarray
    score: jnp.ndarray


def binary_entropy(p: jnp.ndarray) -> jnp.ndarray:
    """Entropy (nats) of a Bernoulli answer with probability ``p``; 0 at 0 and 1."""
    p = jnp.clip(p, _P_EPS, 1.0 - _P_EPS)
    return -(p * jnp.log(p) + (1.0 - p) * jnp.log1p(-p))


def _uniform(num_draws: int) -> jnp.ndarray:
    return jnp.full((num_draws,), 1.0 / num_draws)


def _bald_gain(p: jnp.ndarray, fantasies: jnp.ndarray, weights: jnp.ndarray,
               summary: Any) -> jnp.ndarray:
    # per fantasy: H(y_c | its answers) - E_{theta | its answers} H(y_c | theta); the
    # mean over fantasies estimates the BatchBALD increment, and no term is negative
    del weights, summary
    return (binary_entropy(fantasies @ p) - fantasies @ binary_entropy(p)).mean(axis=0)


def _threshold_gain(p: jnp.ndarray, fantasies: jnp.ndarray, weights: jnp.ndarray,
                    summary: jnp.ndarray) -> jnp.ndarray:
    # Var_w(g) - E_y Var_{w|y}(g) = A1^2/P + A0^2/(1-P) - (w.g)^2 per summary,
    # with A1 = sum_s w_s p_s g_s, A0 = w.g - A1 and P = w.p (the predictive).
    del weights
    p = jnp.clip(p, _P_EPS, 1.0 - _P_EPS)
    centred = summary - (fantasies @ summary)[:, None, :]  # (M, S, Q), per fantasy
    a1 = jnp.einsum("ms,sc,msq->mcq", fantasies, p, centred)
    prob = (fantasies @ p)[:, :, None]
    gain = a1**2 / prob + a1**2 / (1.0 - prob)  # centred: w.g = 0 so A0 = -A1
    return gain.sum(axis=-1).mean(axis=0)


_GAINS = {"bald": _bald_gain, "threshold": _threshold_gain}


def bald_scores(p: Any, weights: Any = None) -> jnp.ndarray:
    """BALD score of every candidate: :math:`H(\\sum_s w_s p_{sc}) - \\sum_s w_s H(p_{sc})`.

    Parameters
    ----------
    p
        p(correct), shape ``(S, C)``: draws by candidates.
    weights
        Weights of the draws, shape ``(S,)``, summing to 1; default uniform.

    Returns
    -------
    jnp.ndarray
        Scores (nats), shape ``(C,)``, in ``[0, log 2]``.

    Examples
    --------
    >>> p = jnp.array([[0.5, 0.1], [0.5, 0.9]])
    >>> [round(float(s), 4) for s in bald_scores(p)]
    [0.0, 0.3681]
    """
    p, weights = _check_p(p, weights)
    return _bald_gain(jnp.asarray(p), jnp.asarray(weights)[None], None, None)


def threshold_scores(p: Any, summary: Any, weights: Any = None) -> jnp.ndarray:
    """Expected fall of the summed posterior variance of ``summary`` after one answer.

    Parameters
    ----------
    p
        p(correct), shape ``(S, C)``.
    summary
        Per-draw quantities whose variance should fall, shape ``(S, Q)`` (see
        :func:`threshold_summary`).
    weights
        Weights of the draws, shape ``(S,)``; default uniform.

    Returns
    -------
    jnp.ndarray
        :math:`\\sum_q [\\mathrm{Var}_w(g_q) - E_y \\mathrm{Var}_{w|y}(g_q)]`,
        shape ``(C,)``, never negative.

    Examples
    --------
    >>> p = jnp.array([[0.9, 0.5], [0.1, 0.5]])
    >>> g = jnp.array([[1.0], [-1.0]])  # the draws disagree on g by 2
    >>> [round(float(s), 3) for s in threshold_scores(p, g)]
    [0.64, 0.0]
    """
    p, weights = _check_p(p, weights)
    summary = check.finite_array("summary", summary, ndim=2)
    if summary.shape[0] != p.shape[0]:
        raise ValueError(
            f"summary needs one row per draw ({p.shape[0]}), got shape {summary.shape}."
        )
    return _threshold_gain(jnp.asarray(p), jnp.asarray(weights)[None], None,
                           jnp.asarray(summary, jnp.float32))


def greedy_batch(
    key: jax.Array,
    p: Any,
    batch_size: int,
    *,
    criterion: str = "bald",
    summary: Any = None,
    num_fantasies: int = 16,
) -> Batch:
    """Choose ``batch_size`` distinct candidates greedily, each given those before it.

    The first pick maximises the criterion under the posterior. After each
    pick, every fantasy draws an answer to it from its own posterior
    predictive and reweights the draws by that answer's likelihood; the next
    pick maximises the score averaged over the fantasies. So a candidate that
    tells the same as one already picked scores low, and the batch spreads.

    Parameters
    ----------
    key
        Key of the fantasy answers.
    p
        p(correct), shape ``(S, C)``, with ``C >= batch_size``.
    batch_size
        Picks.
    criterion
        ``"bald"`` or ``"threshold"`` (which needs ``summary``).
    summary
        Per-draw threshold summaries, shape ``(S, Q)`` (``"threshold"`` only).
    num_fantasies
        ``M``, the conditioned weightings averaged per score.

    Returns
    -------
    Batch
        ``index`` (candidate indices, pick order) and ``score`` (each pick's
        score when it was picked).

    Examples
    --------
    >>> p = jnp.array([[0.5, 0.5, 0.1], [0.5, 0.5, 0.9]])
    >>> greedy_batch(jax.random.key(0), p, 2).index.tolist()[0]
    2
    """
    batch_size = check.positive_int("batch_size", batch_size)
    num_fantasies = check.positive_int("num_fantasies", num_fantasies)
    if criterion not in _GAINS:
        raise ValueError(f"criterion must be one of {tuple(_GAINS)}, got {criterion!r}.")
    p, _ = _check_p(p, None)
    if batch_size > p.shape[1]:
        raise ValueError(
            f"batch_size={batch_size} exceeds the {p.shape[1]} candidates."
        )
    if criterion == "threshold":
        if summary is None:
            raise ValueError('criterion="threshold" needs summary, shape (S, Q).')
        summary = check.finite_array("summary", summary, ndim=2)
        if summary.shape[0] != p.shape[0]:
            raise ValueError(
                f"summary needs one row per draw ({p.shape[0]}), got {summary.shape}."
            )
    return _greedy(key, p, summary, batch_size=batch_size, criterion=criterion,
                   num_fantasies=num_fantasies)


@partial(jax.jit, static_argnames=("batch_size", "criterion", "num_fantasies"))
def _greedy(key, p, summary, *, batch_size, criterion, num_fantasies):
    num_draws = p.shape[0]
    weights = _uniform(num_draws).astype(p.dtype)
    gain_fn = _GAINS[criterion]

    def pick(carry, step_key):
        fantasies, taken = carry
        score = jnp.where(taken, -jnp.inf, gain_fn(p, fantasies, weights, summary))
        c = jnp.argmax(score)
        pc = p[:, c]
        answers = jax.random.uniform(step_key, (num_fantasies,)) < fantasies @ pc
        lik = jnp.where(answers[:, None], pc[None], 1.0 - pc[None])
        fantasies = fantasies * jnp.clip(lik, _P_EPS, 1.0)
        fantasies = fantasies / fantasies.sum(axis=1, keepdims=True)
        return (fantasies, taken.at[c].set(True)), (c, score[c])

    start = (jnp.tile(weights, (num_fantasies, 1)), jnp.zeros(p.shape[1], bool))
    _, (index, score) = jax.lax.scan(pick, start, jax.random.split(key, batch_size))
    return Batch(index, score)


class Linearisation(NamedTuple):
    """p(correct) and threshold summaries, linear around the mean of the draws.

    ``p`` (C,) and ``jac_p`` (C, P) are p(correct) of the candidates and its
    gradient at the mean; ``jac_g`` (Q, P) the gradient of the threshold
    summaries; ``deviations`` (S, P) the flattened draws minus their mean, so
    the posterior covariance is ``deviations.T @ deviations / S``.
    """

    p: jnp.ndarray
    jac_p: jnp.ndarray
    jac_g: jnp.ndarray
    deviations: jnp.ndarray


def linearise(spec: Any, draws: dict, ref: Any, probe: Any, mc_samples: Any,
              query_refs: Any) -> Linearisation:
    """p(correct) of ``(ref, probe)`` and :func:`threshold_summary`, linear at the draws' mean.

    Parameters
    ----------
    spec
        The model specification.
    draws
        Posterior draws (every site, with a leading draw axis).
    ref, probe
        Candidate trials, shape ``(C, d)``.
    mc_samples
        Common Monte Carlo samples of the model's rule (None for the quadrature).
    query_refs
        References whose threshold summaries count, shape ``(R, d)``.

    Returns
    -------
    Linearisation
    """
    ref = check.finite_array("ref", ref, ndim=2)
    probe = check.finite_array("probe", probe, ndim=2)
    if probe.shape != ref.shape:
        raise ValueError(f"probe must have the shape of ref {ref.shape}, got {probe.shape}.")
    return _linearise(spec, draws, jnp.asarray(ref, jnp.float32),
                      jnp.asarray(probe, jnp.float32), mc_samples,
                      jnp.asarray(query_refs, jnp.float32))


@partial(jax.jit, static_argnums=0)
def _linearise(spec, draws, ref, probe, mc_samples, query_refs):
    flat = jax.vmap(lambda params: ravel_pytree(params)[0])(draws)
    unravel = ravel_pytree(jax.tree_util.tree_map(lambda x: x[0], draws))[1]
    mean = flat.mean(axis=0)

    def p_one(theta, r, q):
        logit = spec.trial_logits(unravel(theta), r[None], q[None], mc_samples)
        return jax.nn.sigmoid(logit)[0]

    p, jac_p = jax.vmap(jax.value_and_grad(p_one), (None, 0, 0))(mean, ref, probe)

    def summary(theta):
        one = jax.tree_util.tree_map(lambda x: x[None], unravel(theta))
        return threshold_summary(spec, one, query_refs)[0]

    return Linearisation(p, jac_p, jax.jacrev(summary)(mean), flat - mean)


def linear_threshold_batch(lin: Linearisation, batch_size: int) -> Batch:
    r"""Greedy batch maximising the fall of the summed summary variances, linearised.

    With :math:`a_c = \nabla p_c / \sqrt{p_c (1 - p_c)}` (an answer's Fisher
    information is :math:`a_c a_c^T`) and the posterior covariance
    :math:`\Sigma`, one answer to candidate ``c`` lowers the variance of
    summary ``q`` by :math:`(g_q^T \Sigma a_c)^2 / (1 + a_c^T \Sigma a_c)`.
    Each pick maximises the sum over ``q``; then :math:`\Sigma` takes the
    rank-one update of that answer, so the next pick counts only what is
    left to learn.

    Parameters
    ----------
    lin
        From :func:`linearise`.
    batch_size
        Picks (at most the number of candidates).

    Returns
    -------
    Batch
        ``index`` (candidate indices, pick order) and ``score`` (each pick's
        variance fall when it was picked).
    """
    batch_size = check.positive_int("batch_size", batch_size)
    if not isinstance(lin, Linearisation):
        raise TypeError(f"lin must be a Linearisation (from linearise), got "
                        f"{type(lin).__name__}.")
    p = check.finite_array("lin.p", lin.p, ndim=1)
    if np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("lin.p must hold probabilities in [0, 1].")
    jac_p = check.finite_array("lin.jac_p", lin.jac_p, ndim=2)
    jac_g = check.finite_array("lin.jac_g", lin.jac_g, ndim=2)
    deviations = check.finite_array("lin.deviations", lin.deviations, ndim=2)
    num = deviations.shape[1]
    if jac_p.shape != (p.shape[0], num) or jac_g.shape[1] != num:
        raise ValueError(
            f"lin's shapes disagree: p {p.shape}, jac_p {jac_p.shape}, jac_g "
            f"{jac_g.shape}, deviations {deviations.shape} (want (C,), (C, P), (Q, P), "
            "(S, P)).")
    if batch_size > p.shape[0]:
        raise ValueError(f"batch_size={batch_size} exceeds the {p.shape[0]} candidates.")
    return _linear_greedy(*(np.asarray(x, np.float32)
                            for x in (p, jac_p, jac_g, deviations)), batch_size=batch_size)


@partial(jax.jit, static_argnames=("batch_size",))
def _linear_greedy(p, jac_p, jac_g, deviations, *, batch_size):
    p = jnp.clip(p, _P_EPS, 1.0 - _P_EPS)
    root = jnp.sqrt(deviations.shape[0])
    a = deviations @ (jac_p / jnp.sqrt(p * (1.0 - p))[:, None]).T / root  # (S, C)
    b = deviations @ jac_g.T / root  # (S, Q)

    def pick(carry, _):
        K, L, taken = carry  # K = A Sigma A^T, L = A Sigma G^T
        score = jnp.where(taken, -jnp.inf, (L**2).sum(axis=1) / (1.0 + jnp.diag(K)))
        c = jnp.argmax(score)
        k = K[:, c] / (1.0 + K[c, c])
        carry = K - jnp.outer(k, K[c]), L - jnp.outer(k, L[c]), taken.at[c].set(True)
        return carry, (c, score[c])

    start = (a.T @ a, a.T @ b, jnp.zeros(p.shape[0], bool))
    _, (index, score) = jax.lax.scan(pick, start, None, length=batch_size)
    return Batch(index, score)


def threshold_directions(input_dim: int) -> np.ndarray:
    """Unit directions whose contour radii fix an ellipsoid: ``d(d+1)/2`` of them.

    The axes and the diagonals between each pair of axes; the quadratic form
    :math:`u^T \\Sigma^{-1} u` on them determines :math:`\\Sigma`.
    """
    eye = np.eye(input_dim)
    pairs = [(eye[i] + eye[j]) / np.sqrt(2.0)
             for i in range(input_dim) for j in range(i + 1, input_dim)]
    return np.array([*eye, *pairs])


def threshold_summary(spec: Any, draws: dict, query_refs: Any) -> jnp.ndarray:
    """Log threshold radii of every draw at every query reference, shape ``(S, Q K)``.

    The radius along ``u`` at ``x`` is :math:`d^* / \\sqrt{u^T \\Sigma(x)^{-1} u}`
    (exact for the MVP; for the full WPPM where :math:`\\Sigma` changes slowly
    over a threshold). The constant :math:`d^*` is the same for every draw and
    drops out of variances, so the summary is
    :math:`-\\tfrac12 \\log(u^T \\Sigma(x)^{-1} u)` over the ``K`` directions of
    :func:`threshold_directions`.
    """
    refs = jnp.asarray(query_refs)
    d = spec.input_dim
    u = jnp.asarray(threshold_directions(d), dtype=jnp.float32)

    def one(params):
        cov = spec.local_covariance(params, None if spec.is_mvp else refs)
        inv = jnp.linalg.inv(jnp.broadcast_to(cov, (refs.shape[0], d, d)))
        return (-0.5 * jnp.log(jnp.einsum("kd,qde,ke->qk", u, inv, u))).reshape(-1)

    return jax.vmap(one)(draws)


def _check_p(p: Any, weights: Any) -> tuple[Any, Any]:
    """Checked ``p`` (S, C) and draw weights (uniform when None), both float32."""
    arr = check.finite_array("p", p, ndim=2).astype(np.float32)
    if np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError("p must hold probabilities in [0, 1].")
    if weights is None:
        return arr, np.full(arr.shape[0], 1.0 / arr.shape[0], np.float32)
    w = check.finite_array("weights", weights, ndim=1)
    if w.shape != (arr.shape[0],) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(
            f"weights must be {arr.shape[0]} non-negative numbers summing to 1, got "
            f"shape {w.shape} and sum {w.sum():.4g}."
        )
    return arr, w.astype(np.float32)
