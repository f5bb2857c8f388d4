r"""Threshold contours, threshold ellipses and covariance fields of a fitted model.

For a reference :math:`x` and a unit direction :math:`u`, the threshold is
the distance :math:`t` at which p(correct) of the pair :math:`(x, x + t u)`
reaches the criterion.

- MVP: the task gives the discriminability :math:`d^*` at the criterion, and
  the contour is exact,

  .. math:: t(u) = d^* / \sqrt{u^T (\Sigma + \epsilon I)^{-1} u},

  the ellipse :math:`\delta^T (\Sigma+\epsilon I)^{-1} \delta = {d^*}^2`.
- Full WPPM: p(correct) is the oddity rule, by default its deterministic
  quadrature (:mod:`psyphy_numpyro.core.oddity.quadrature`) where that
  applies, else Monte Carlo with one set of standard draws shared by every
  evaluation (common random numbers). Either way it is a smooth,
  deterministic function of :math:`t`, and :func:`find_thresholds`
  solves p(correct) = criterion along every direction at once with a
  bracketed root finder of fixed cost. The search stays inside the
  Chebyshev domain :math:`[-1, 1]^2`, where the field is defined; a direction
  whose p(correct) does not reach the criterion before the domain's edge has
  radius ``inf`` and ``reached`` False.

The contour of the full WPPM is not exactly an ellipse where :math:`\Sigma(x)`
changes over the threshold distance; :func:`fit_ellipse` fits the threshold
covariance by least squares in relative radius and reports its worst miss
against the contour.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.covariance import mahalanobis
from psyphy_numpyro.core.intervals import central_interval
from psyphy_numpyro.core.keys import default_mc_key
from psyphy_numpyro.core.oddity.quadrature import quadrature_rule
from psyphy_numpyro.core.spec import as_spec

_MVP_NUM_ANGLES = 180
_FULL_NUM_ANGLES = 64
_DRAW_BUDGET = 2**20  # draws x refs x angles x MC samples (or nodes) per batch


class Contour(NamedTuple):
    """Threshold distance per direction: ``radii`` of shape ``(..., num_angles)``.

    ``reached`` (same shape as ``radii``) is False where p(correct) never
    reaches the criterion inside the stimulus domain; the radius there is
    ``inf``. ``ref`` holds the reference(s) of a numerical contour, shape
    ``(2,)`` or ``(num_refs, 2)``; it is None for the MVP, whose contour is the
    same everywhere.
    """

    angles: np.ndarray
    radii: np.ndarray
    criterion: float
    reached: np.ndarray | None = None
    ref: np.ndarray | None = None

    def xy(self, ref: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian points of the contour around ``ref`` (closed curve).

        ``ref`` defaults to the contour's own reference(s), else (0, 0). With
        several references (shape ``(num_refs, 2)``) the points have shape
        ``(..., num_refs, num_angles + 1)``. Unreached directions give ``inf``.
        """
        if ref is None:
            ref = (0.0, 0.0) if self.ref is None else self.ref
        ref = np.asarray(ref, dtype=float)
        a = np.append(self.angles, self.angles[0])
        r = np.concatenate([self.radii, self.radii[..., :1]], axis=-1)
        return ref[..., 0, None] + r * np.cos(a), ref[..., 1, None] + r * np.sin(a)


class ContourBand(NamedTuple):
    """Pointwise credible band of the threshold in each direction.

    ``reached`` is the fraction of draws whose p(correct) reaches the
    criterion in each direction (None when not computed); a band bound is
    ``inf`` where too few draws reach it.
    """

    angles: np.ndarray
    lower: np.ndarray
    median: np.ndarray
    upper: np.ndarray
    prob: float
    reached: np.ndarray | None = None


class EllipseFit(NamedTuple):
    """Threshold ellipse fitted to a contour (see :func:`fit_ellipse`).

    Attributes
    ----------
    cov
        Threshold covariance :math:`S`, shape ``(..., 2, 2)``: the ellipse is
        :math:`\\delta^T S^{-1} \\delta = 1`. NaN where ``valid`` is False.
    radii
        The ellipse's distance along each of the contour's directions,
        shape ``(..., num_angles)``; NaN where ``valid`` is False.
    max_rel_error
        Worst relative miss :math:`\\max_u |t_S(u) - t(u)| / t(u)` over the
        reached directions, shape ``(...)``; NaN where ``valid`` is False.
    valid
        False where fewer than 3 directions reached the criterion or the
        fitted :math:`S^{-1}` is not positive definite.
    """

    cov: np.ndarray
    radii: np.ndarray
    max_rel_error: np.ndarray
    valid: np.ndarray


def threshold_criterion(model: Any, criterion: float | None = None) -> float:
    """The p(correct) that defines a threshold, checked; by default half-way to 1.

    From the MVP task's floor (its p(correct) at zero discriminability, so
    ``task.default_criterion``) or, for the full WPPM, from the oddity rule's
    chance level 1/3 (so 2/3).
    """
    task = model.task
    if not model.is_mvp:
        return _check_criterion_full(task, criterion)
    criterion = task.default_criterion if criterion is None else criterion
    check.open_unit_interval("criterion", criterion)
    if not criterion > task.floor:
        raise ValueError(
            f"criterion must exceed the task's p(correct) at zero discriminability "
            f"({task.floor:.4g}), got {criterion!r}."
        )
    return float(criterion)


# -- closed form (MVP) ----------------------------------------------------------
def _mvp_contour(model: Any, params: dict, criterion: float | None,
                 num_angles: int) -> Contour:
    task = model.task
    criterion = threshold_criterion(model, criterion)
    angles = np.linspace(0.0, 2 * np.pi, num_angles, endpoint=False)
    u = jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    d_star = task.discriminability(criterion)

    def radii(p):
        cov = model.local_covariance(p)
        return d_star / mahalanobis(cov, u, model.diag_term)

    log_diag = jnp.asarray(params[model.prior.site])
    fn = jax.vmap(radii) if log_diag.ndim == 2 else radii
    r = np.asarray(fn({model.prior.site: log_diag}))
    return Contour(angles, r, float(criterion), np.ones(r.shape, dtype=bool))


# -- numerical (full WPPM) ------------------------------------------------------
def find_thresholds(
    p_fn: Callable[[jnp.ndarray], jnp.ndarray],
    t_max: jnp.ndarray,
    criterion: float,
    *,
    num_grid: int = 16,
    num_bisect: int = 10,
    num_refine: int = 6,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Smallest distance at which ``p_fn`` reaches ``criterion``, for a batch.

    A vectorised bracketed root finder of fixed cost, usable inside ``jit``
    and ``vmap``. It scans ``[0, t_max]`` on ``num_grid`` equal steps for the
    first crossing, halves that bracket ``num_bisect`` times, then refines it
    with ``num_refine`` Illinois (modified regula falsi) steps, and returns
    the secant root of the final bracket. ``p_fn`` is called
    ``num_grid + num_bisect + num_refine + 1`` times.

    Parameters
    ----------
    p_fn
        Maps distances of shape ``t_max.shape`` to p(correct) of that shape,
        elementwise (e.g. one reference-direction pair per element).
        It should be deterministic (fixed Monte Carlo draws).
    t_max
        Upper end of each search bracket (e.g. the distance to the domain's
        edge), shape ``(...)``.
    criterion
        Target p(correct).
    num_grid, num_bisect, num_refine
        Iteration counts (static).

    Returns
    -------
    radii : jnp.ndarray
        Distances, shape ``t_max.shape``; ``inf`` where not reached.
    reached : jnp.ndarray
        Boolean, False where ``p_fn`` stays below ``criterion`` on the grid
        up to ``t_max``.

    Examples
    --------
    >>> p_fn = lambda t: 1 / 3 + (2 / 3) * jnp.tanh(t / jnp.array([0.1, 1.0]))
    >>> radii, reached = find_thresholds(p_fn, jnp.array([1.0, 0.2]), 2 / 3)
    >>> [round(float(r), 4) for r in radii], reached.tolist()
    ([0.0549, inf], [True, False])
    """
    t_max = jnp.asarray(t_max)
    t_max = t_max.astype(jnp.result_type(t_max.dtype, jnp.float32))

    def f(t):
        return p_fn(t) - criterion

    zero = jnp.zeros_like(t_max)
    f0 = f(zero)
    found0 = f0 >= 0
    hi0, fhi0 = jnp.where(found0, zero, t_max), jnp.where(found0, f0, 0.0)
    init = (found0, zero, f0, hi0, fhi0)

    def scan_step(carry, k):
        found, lo, flo, hi, fhi = carry
        t = t_max * (k / num_grid)
        ft = f(t)
        new = ~found & (ft >= 0)
        below = ~found & ~new
        lo, flo = jnp.where(below, t, lo), jnp.where(below, ft, flo)
        hi, fhi = jnp.where(new, t, hi), jnp.where(new, ft, fhi)
        return (found | new, lo, flo, hi, fhi), None

    steps = jnp.arange(1, num_grid + 1, dtype=t_max.dtype)
    (reached, lo, flo, hi, fhi), _ = jax.lax.scan(scan_step, init, steps)

    def bisect(_, carry):
        lo, flo, hi, fhi = carry
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        up = fm >= 0
        return (jnp.where(up, lo, mid), jnp.where(up, flo, fm),
                jnp.where(up, mid, hi), jnp.where(up, fm, fhi))

    lo, flo, hi, fhi = jax.lax.fori_loop(0, num_bisect, bisect, (lo, flo, hi, fhi))

    def secant(lo, flo, hi, fhi):
        denom = fhi - flo
        ok = denom > 0
        c = lo - flo * (hi - lo) / jnp.where(ok, denom, 1.0)
        return jnp.clip(jnp.where(ok, c, 0.5 * (lo + hi)), lo, hi)

    def illinois(_, carry):
        lo, flo, hi, fhi, wlo, whi, last = carry
        c = secant(lo, wlo * flo, hi, whi * fhi)
        fc = f(c)
        down = fc < 0  # c replaces the lower end
        # halve the weight of an end that survives twice in a row
        whi = jnp.where(down, jnp.where(last < 0, 0.5 * whi, whi), 1.0)
        wlo = jnp.where(down, 1.0, jnp.where(last > 0, 0.5 * wlo, wlo))
        return (jnp.where(down, c, lo), jnp.where(down, fc, flo),
                jnp.where(down, hi, c), jnp.where(down, fhi, fc),
                wlo, whi, jnp.where(down, -1, 1))

    ones = jnp.ones_like(t_max)
    start = (lo, flo, hi, fhi, ones, ones, jnp.zeros(t_max.shape, jnp.int32))
    lo, flo, hi, fhi, *_ = jax.lax.fori_loop(0, num_refine, illinois, start)
    radii = jnp.where(reached, secant(lo, flo, hi, fhi), jnp.inf)
    return radii, reached


def _distance_to_edge(refs: jnp.ndarray, u: jnp.ndarray) -> jnp.ndarray:
    """Largest ``t`` keeping ``ref + t u`` in ``[-1, 1]^d``: shape ``(R, A)``."""
    x, v = refs[:, None, :], u[None, :, :]
    safe = jnp.where(v == 0, 1.0, v)
    t = jnp.where(v == 0, jnp.inf, (jnp.sign(v) - x) / safe)
    return jnp.maximum(jnp.min(t, axis=-1), 0.0)


def _numerical_radii(model, W, refs, u, mc_samples, criterion, *, stacked, batch_size):
    t_max = _distance_to_edge(refs, u)
    x = refs[:, None, :]

    def one(w):
        params = {model.prior.site: w}

        def p_fn(t):
            return model.p_correct(params, x, x + t[..., None] * u, mc_samples)

        return find_thresholds(p_fn, t_max, criterion)

    if stacked:
        return jax.lax.map(one, W, batch_size=batch_size)
    return one(W)


_numerical_radii_jit = jax.jit(
    _numerical_radii, static_argnames=("model", "stacked", "batch_size")
)


def _check_criterion_full(task: Any, criterion: float | None) -> float:
    if criterion is None:
        return 0.5 * (task.chance + 1.0)
    check.open_unit_interval("criterion", criterion)
    if not task.chance < criterion < 1.0 - task.config.clip:
        raise ValueError(
            f"criterion must lie between the oddity task's chance level "
            f"({task.chance:.4g}) and its highest p(correct), 1 - clip = "
            f"{1.0 - task.config.clip:.6g}; got {criterion!r}."
        )
    return float(criterion)


def _check_refs(ref: Any) -> np.ndarray:
    if ref is None:
        raise ValueError(
            "the full WPPM's covariance changes over the stimulus space, so its "
            "threshold contour needs a reference: pass ref=(x, y) or ref of shape "
            "(num_refs, 2), e.g. ref=reference_grid(5)."
        )
    ref = check.finite_array("ref", ref)
    if ref.ndim not in (1, 2) or ref.shape[-1] != 2:
        raise ValueError(f"ref must have shape (2,) or (num_refs, 2), got {ref.shape}.")
    if np.any(np.abs(ref) > 1.0):
        raise ValueError(
            "ref must lie in the Chebyshev domain [-1, 1]^2 of the full WPPM; found "
            f"values from {ref.min():.4g} to {ref.max():.4g}."
        )
    return ref


def is_stack(model: Any, params: dict) -> bool:
    site = model.prior.site
    if site not in params:
        raise ValueError(f"params must hold {site!r}, got keys {sorted(params)}.")
    ndim, base = np.ndim(params[site]), len(model.prior.shape)
    if ndim not in (base, base + 1):
        raise ValueError(
            f"params[{site!r}] must have shape {model.prior.shape} or "
            f"(num_draws, *{model.prior.shape}), got {np.shape(params[site])}."
        )
    if not isinstance(params[site], jax.core.Tracer):
        check.finite_array(f"params[{site!r}]", params[site])
    return ndim == base + 1


def _contour_spec(model, mc_key, num_samples):
    """The spec whose p(correct) a full WPPM's contour solves, and its draws.

    Asked for no Monte Carlo key or sample count, the quadrature rule where it
    applies (:meth:`~psyphy_numpyro.core.spec.WPPMSpec.fixed_density_spec`),
    which has no draws; otherwise the task's own estimator.
    """
    spec = as_spec(model)
    if mc_key is None and num_samples is None:
        spec = spec.fixed_density_spec()
    if not spec.needs_draws:
        rule = quadrature_rule(*spec.task.config.quadrature, input_dim=spec.input_dim)
        return spec, None, rule.num_nodes
    if num_samples is None:
        num_samples = spec.task.config.num_samples
    num_samples = check.positive_int("num_samples", num_samples)
    key = default_mc_key(spec, mc_key)
    return spec, spec.draw_mc_samples(key, None, num_samples), num_samples


def _full_contour(model, params, ref, criterion, num_angles, mc_key, num_samples):
    criterion = threshold_criterion(model, criterion)
    refs = _check_refs(ref)
    stacked = is_stack(model, params)
    spec, mc_samples, per_eval = _contour_spec(model, mc_key, num_samples)
    angles = np.linspace(0.0, 2 * np.pi, num_angles, endpoint=False)
    u = jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    batch_refs = jnp.asarray(np.atleast_2d(refs), dtype=u.dtype)
    W = jnp.asarray(params[model.prior.site])
    per_draw = batch_refs.shape[0] * num_angles * per_eval
    batch_size = max(1, min(W.shape[0] if stacked else 1, _DRAW_BUDGET // per_draw))
    radii, reached = _numerical_radii_jit(
        spec, W, batch_refs, u, mc_samples, criterion, stacked=stacked,
        batch_size=batch_size,
    )
    radii, reached = np.asarray(radii), np.asarray(reached)
    if refs.ndim == 1:
        radii, reached = radii[..., 0, :], reached[..., 0, :]
    return Contour(angles, radii, criterion, reached, refs)


def threshold_contour(
    model: Any,
    params: dict,
    *,
    ref: Any = None,
    criterion: float | None = None,
    num_angles: int | None = None,
    mc_key: jax.Array | None = None,
    num_samples: int | None = None,
) -> Contour:
    """Threshold distance along ``num_angles`` directions in the plane.

    The MVP's contour is the closed form (the same at every reference, so
    ``ref`` is ignored). The full WPPM's is found numerically at each
    reference by :func:`find_thresholds`, inside one compiled call over
    draws, references and directions, on a deterministic p(correct): the
    quadrature rule where it applies (Gaussian noise, ``bandwidth`` <= 0.1)
    and the task's estimator is unset, else Monte Carlo with one fixed set of
    standard draws. The quadrature's radii are within about 2% of the exact
    ones, where Monte Carlo's 1,000 draws miss by 5-9%.

    Parameters
    ----------
    model
        A WPPM with ``input_dim=2``.
    params
        One parameter set, or a stack of them (leading axis: draws).
    ref
        Full WPPM: reference, shape ``(2,)``, or references ``(num_refs, 2)``,
        in ``[-1, 1]^2`` (required). Ignored for the MVP.
    criterion
        p(correct) that defines the threshold. Default: the MVP task's
        ``default_criterion``; 2/3 (half-way from chance, 1/3, to 1) for the
        full WPPM's oddity rule.
    num_angles
        Directions, evenly spaced on [0, 2 pi); default 180 (MVP), 64 (full).
    mc_key
        Full WPPM: key of the fixed Monte Carlo samples; default
        ``PRNGKey(task.config.default_key_seed)``. Passing it (or
        ``num_samples``) asks for the Monte Carlo rule.
    num_samples
        Full WPPM: Monte Carlo samples; default ``task.config.num_samples``
        when Monte Carlo is used.

    Returns
    -------
    Contour
        ``radii`` and ``reached`` of shape ``([num_draws,] [num_refs,]
        num_angles)``; ``inf`` radius where the criterion is not reached
        before the domain's edge.

    Examples
    --------
    >>> import jax
    >>> from psyphy_numpyro import WPPM, Prior
    >>> model = WPPM(Prior(input_dim=2, basis_degree=2))
    >>> params = model.init_params(jax.random.PRNGKey(0))
    >>> c = threshold_contour(model, params, ref=[[0.0, 0.0], [0.5, 0.5]],
    ...                       num_angles=16, num_samples=200)
    >>> c.radii.shape, c.criterion
    ((2, 16), 0.6666666666666666)
    """
    if model.input_dim != 2:
        raise ValueError(f"threshold contours need input_dim=2, got {model.input_dim}.")
    if num_angles is None:
        num_angles = _MVP_NUM_ANGLES if model.is_mvp else _FULL_NUM_ANGLES
    num_angles = check.positive_int("num_angles", num_angles, minimum=3)
    is_stack(model, params)  # the site, its shape, finite values
    if model.is_mvp:
        return _mvp_contour(model, params, criterion, num_angles)
    return _full_contour(model, params, ref, criterion, num_angles, mc_key, num_samples)


# -- bands, ellipses, fields --------------------------------------------------------
def contour_band(contour: Contour, prob: float = 0.9) -> ContourBand:
    """Pointwise central ``prob`` band of a stack of contours (posterior draws).

    Works for the closed-form and the numerical contours, at one reference
    (``radii`` of shape ``(num_draws, num_angles)``) or several (``(num_draws,
    num_refs, num_angles)``). Unreached directions count as infinitely far.
    """
    check.open_unit_interval("prob", prob)
    base = 2 if contour.ref is not None and np.ndim(contour.ref) == 2 else 1
    if contour.radii.ndim != base + 1:
        raise ValueError("contour_band needs a stack of contours (one per draw).")
    lo, med, hi = central_interval(contour.radii, prob)
    reached = None if contour.reached is None else np.mean(contour.reached, axis=0)
    return ContourBand(contour.angles, lo, med, hi, prob, reached)


def fit_ellipse(contour: Contour, *, weighting: str = "relative") -> EllipseFit:
    r"""Least-squares threshold ellipse of each contour.

    Fits the symmetric :math:`A = S^{-1}` of the ellipse whose radius along
    each direction is :math:`t_S(u) = (u^T A u)^{-1/2}`, over the reached
    directions, and reports how far the ellipse's radii are from the
    contour's. For the MVP the fit is exact, :math:`S = {d^*}^2 (\Sigma +
    \epsilon I)`; for the full WPPM the contour is not an ellipse and
    ``max_rel_error`` says by how much.

    Parameters
    ----------
    contour
        From :func:`threshold_contour`; any leading shape.
    weighting
        ``"relative"`` (default) minimises the squared relative radius miss
        :math:`\sum_u (t_S(u) / t(u) - 1)^2`, so every direction counts
        alike: Gauss-Newton steps (a fixed number, each kept only if it
        lowers the sum with :math:`A` positive definite) from the linear
        fit of :math:`t(u)^2 u^T A u = 1`. ``"uniform"`` is psyphy's readout,
        the linear least squares :math:`\sum_u (u^T A u - t(u)^{-2})^2`,
        which the shortest radii dominate.

    Returns
    -------
    EllipseFit
        ``cov`` of shape ``(..., 2, 2)``, ``radii`` like ``contour.radii``,
        ``max_rel_error`` and ``valid`` of shape ``(...)``.

    Examples
    --------
    >>> angles = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
    >>> radii = 1 / np.sqrt(np.cos(angles) ** 2 / 0.04 + np.sin(angles) ** 2 / 0.01)
    >>> fit = fit_ellipse(Contour(angles, radii, 2 / 3))  # semi-axes 0.2 and 0.1
    >>> semi_axes = np.sqrt(np.diag(fit.cov))
    >>> [round(float(a), 4) for a in semi_axes], bool(fit.max_rel_error < 1e-4)
    ([0.2, 0.1], True)
    """
    if weighting not in ("relative", "uniform"):
        raise ValueError(
            f"weighting must be 'relative' or 'uniform', got {weighting!r}."
        )
    radii = jnp.asarray(contour.radii)
    reached = (jnp.ones(radii.shape, bool) if contour.reached is None
               else jnp.asarray(contour.reached))
    angles = jnp.asarray(contour.angles, dtype=radii.dtype)
    fit = _fit_ellipse(radii, reached, angles, relative=weighting == "relative")
    return EllipseFit(*(np.asarray(x) for x in fit))


_GAUSS_NEWTON_STEPS = 16
_STEP_SIZES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.0)  # 0: keep the current fit


def _positive_definite(coef):
    """Whether ``(a11, a12, a22)`` (last axis) is a positive-definite ``A``."""
    a11, a12, a22 = coef[..., 0], coef[..., 1], coef[..., 2]
    return (a11 > 0) & (a11 * a22 - a12 * a12 > 0)


def _design(u):
    """Rows ``(u1^2, 2 u1 u2, u2^2)``: ``u^T A u`` is a row dot ``(a11, a12, a22)``."""
    return jnp.stack([u[..., 0] ** 2, 2.0 * u[..., 0] * u[..., 1], u[..., 1] ** 2], -1)


def _relative_misfit(coef, X, r, w):
    """Relative radius miss ``t_S / t - 1`` per direction (0 where ``w`` is 0)."""
    s = r * r * jnp.einsum("...ai,...i->...a", X, coef)  # (t / t_S)^2
    miss = jax.lax.rsqrt(jnp.maximum(s, jnp.finfo(s.dtype).tiny)) - 1.0
    return jnp.where(w > 0, miss, 0.0), s


def _whiten(coef, u):
    """Cholesky factor ``L`` of ``A`` (``A = L L^T``) and the directions ``L^T u``."""
    a11, a12, a22 = coef[..., 0], coef[..., 1], coef[..., 2]
    l11 = jnp.sqrt(a11)
    l21 = a12 / l11
    l22 = jnp.sqrt(a22 - l21 * l21)
    v = jnp.stack([l11[..., None] * u[:, 0] + l21[..., None] * u[:, 1],
                   l22[..., None] * u[:, 1]], -1)
    return (l11, l21, l22), v


def _unwhiten(b, factor):
    """``A = L B L^T`` as ``(a11, a12, a22)``."""
    l11, l21, l22 = factor
    b11, b12, b22 = b[..., 0], b[..., 1], b[..., 2]
    return jnp.stack([l11 * l11 * b11,
                      l11 * (l21 * b11 + l22 * b12),
                      l21 * l21 * b11 + 2.0 * l21 * l22 * b12 + l22 * l22 * b22], -1)


def _refine_relative(coef, u, r, w):
    """Gauss-Newton on ``sum w (t_S / t - 1)^2`` from a positive-definite ``coef``.

    Each step is taken for ``B`` in ``A = L B L^T``, where ``L L^T`` is the
    current ``A``, so ``B`` starts at the identity and thin ellipses stay well
    conditioned in float32.
    """
    steps = jnp.asarray(_STEP_SIZES, dtype=r.dtype)
    identity = jnp.broadcast_to(jnp.asarray([1.0, 0.0, 1.0], r.dtype), coef.shape)

    def step(_, coef):
        factor, v = _whiten(coef, u)
        X = _design(v)  # (..., A, 3): u^T A u = X @ b
        miss, s = _relative_misfit(identity, X, r, w)
        # d miss / d b = -(1/2) s^(-3/2) r^2 X
        J = (-0.5 * jax.lax.rsqrt(s) ** 3 * r * r)[..., None] * X
        H = jnp.einsum("...ai,...a,...aj->...ij", J, w, J)
        g = jnp.einsum("...ai,...a->...i", J, w * miss)
        damp = 1e-6 * jnp.trace(H, axis1=-2, axis2=-1)[..., None, None]
        delta = -jnp.linalg.solve(H + damp * jnp.eye(3, dtype=H.dtype),
                                  g[..., None])[..., 0]
        trial = identity[..., None, :] + steps[:, None] * delta[..., None, :]
        miss, _ = _relative_misfit(trial, X[..., None, :, :], r[..., None, :],
                                   w[..., None, :])
        loss = jnp.where(_positive_definite(trial),
                         jnp.sum(w[..., None, :] * miss**2, -1), jnp.inf)
        best = jnp.argmin(loss, axis=-1)  # step 0.0 keeps the current fit
        b = jnp.take_along_axis(trial, best[..., None, None], axis=-2)[..., 0, :]
        return _unwhiten(b, factor)

    return jax.lax.fori_loop(0, _GAUSS_NEWTON_STEPS, step, coef)


@partial(jax.jit, static_argnames="relative")
def _fit_ellipse(radii, reached, angles, *, relative):
    reached = reached & jnp.isfinite(radii) & (radii > 0)
    u = jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    X = _design(u)  # (A, 3)
    # radii in units of the largest reached one, so A's entries are O(1) in float32
    unit = jnp.max(jnp.where(reached, radii, 0.0), axis=-1, keepdims=True)
    unit = jnp.where(unit > 0, unit, 1.0)
    r = jnp.where(reached, radii / unit, 1.0)
    r2 = r * r
    # linear rows u^T A u = 1 / r^2; "relative" multiplies each row by r^2
    w = jnp.where(reached, r2 * r2 if relative else 1.0, 0.0)
    enough = jnp.sum(reached, axis=-1) >= 3
    gram = jnp.einsum("ai,...a,aj->...ij", X, w, X)
    gram = jnp.where(enough[..., None, None], gram, jnp.eye(3, dtype=gram.dtype))
    coef = jnp.linalg.solve(gram, jnp.einsum("ai,...a->...i", X, w / r2)[..., None])
    coef = coef[..., 0]
    if relative:
        # start from the linear fit, or from the circle of mean squared radius
        mask = reached.astype(r.dtype)
        mean_r2 = jnp.sum(mask * r2, -1) / jnp.maximum(jnp.sum(mask, -1), 1.0)
        circle = jnp.stack([1 / mean_r2, jnp.zeros_like(mean_r2), 1 / mean_r2], -1)
        coef = jnp.where(_positive_definite(coef)[..., None], coef, circle)
        coef = _refine_relative(coef, u, r, mask)
    coef = coef / (unit * unit)
    a11, a12, a22 = coef[..., 0], coef[..., 1], coef[..., 2]
    det = a11 * a22 - a12 * a12
    valid = enough & _positive_definite(coef)
    cov = jnp.stack([jnp.stack([a22, -a12], -1), jnp.stack([-a12, a11], -1)], -2)
    cov = jnp.where(valid[..., None, None], cov / det[..., None, None], jnp.nan)
    quad = jnp.einsum("ai,...i->...a", X, coef)
    fitted = jnp.where(valid[..., None], 1.0 / jnp.sqrt(jnp.abs(quad)), jnp.nan)
    miss = jnp.where(reached, jnp.abs(fitted - radii) / jnp.where(reached, radii, 1.0),
                     0.0)
    worst = jnp.where(valid, jnp.max(miss, axis=-1), jnp.nan)
    return cov, fitted, worst, valid


def covariance_field(model: Any, params: dict, points: Any) -> np.ndarray:
    r"""Covariance :math:`\Sigma(x)` at each point, for one params set or a stack.

    Parameters
    ----------
    model
        A WPPM (MVP: the constant covariance, broadcast over the points).
    params
        One parameter set, or a stack of posterior draws (leading axis).
    points
        Stimuli, shape ``(..., input_dim)``; in ``[-1, 1]`` for the full WPPM.

    Returns
    -------
    np.ndarray
        Shape ``([num_draws,] ..., input_dim, input_dim)``.
    """
    points = check.finite_array("points", points)
    d = model.input_dim
    if points.shape[-1:] != (d,):
        raise ValueError(f"points must have shape (..., {d}), got {points.shape}.")
    stacked = is_stack(model, params)
    site = model.prior.site

    def one(value):
        cov = model.local_covariance({site: value}, points)
        return jnp.broadcast_to(cov, points.shape[:-1] + (d, d))

    value = jnp.asarray(params[site])
    return np.asarray(jax.vmap(one)(value) if stacked else one(value))


def covariance_entries(model: Any, draws: dict, points: Any) -> dict[str, np.ndarray]:
    r"""The distinct entries of :math:`\Sigma(x)` at ``points``, per chain and draw.

    Parameters
    ----------
    model
        A WPPM.
    draws
        Posterior draws grouped by chain, holding the model's parameter site
        with shape ``(num_chains, num_draws, ...)``.
    points
        Stimuli, shape ``(num_points, input_dim)``.

    Returns
    -------
    dict
        ``"Sigma11"``, ``"Sigma12"``, ... (entry ``(a, b)``, ``a <= b``,
        counted from 1), each of shape ``(num_chains, num_draws, num_points)``.
    """
    site = model.prior.site
    if site not in draws:
        raise ValueError(f"draws must hold the site {site!r}, got {sorted(draws)}.")
    value = np.asarray(draws[site])
    if value.ndim != len(model.prior.shape) + 2 or value.shape[2:] != model.prior.shape:
        raise ValueError(f"draws[{site!r}] must have shape (num_chains, num_draws, "
                         f"*{model.prior.shape}), got {value.shape}.")
    C, D = value.shape[:2]
    sigma = covariance_field(model, {site: value.reshape((C * D,) + value.shape[2:])},
                             points)
    d = model.input_dim
    return {f"Sigma{a + 1}{b + 1}": sigma[..., a, b].reshape(C, D, -1)
            for a in range(d) for b in range(a, d)}


def reference_grid(n: int = 5, margin: float = 0.2, input_dim: int = 2) -> np.ndarray:
    """An ``n x ... x n`` grid of references in ``[-1 + margin, 1 - margin]^input_dim``.

    Returns
    -------
    np.ndarray
        Shape ``(n ** input_dim, input_dim)``; the first coordinate varies
        fastest.
    """
    n = check.positive_int("n", n)
    margin = check.unit_interval("margin", margin)
    input_dim = check.positive_int("input_dim", input_dim)
    g = np.linspace(-1.0 + margin, 1.0 - margin, n) if n > 1 else np.zeros(1)
    axes = np.meshgrid(*[g] * input_dim, indexing="ij")  # the last varies fastest
    return np.stack([a.ravel() for a in axes[::-1]], axis=-1)
