"""Shared test set-up and shared truths.

CPU only and fixed seeds; the seed example (model, truth, data); the MVP's exact
posterior by grid quadrature; fits of the seed example that several test files
check; builders of the same model here and in psyphy 0.0.5; draw stacks with
known readouts. Fixtures that build something take arguments and so are
functions returned by the fixture.
"""

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
# JAX's persistent compilation cache, shared by the xdist workers and the
# processes the tests start (docs pages, notebooks, the command line): the
# same programs recur across them, and most of a full-WPPM test is compiling.
# Every program is kept (no minimum compile time). A half-written entry read
# by another worker is a cache miss with a warning (filtered in pyproject.toml).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import contextlib
import logging
import warnings

with warnings.catch_warnings():  # arviz 0.23 announces its refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn


#: Test modules whose tests each run for a minute or more (docs pages and
#: notebooks, each in a fresh process). They are collected last by name; run
#: first, they leave the short tests to fill the end, and the two xdist
#: workers finish together rather than one waiting while the other runs a page.
LONG_MODULES = ("test_docs.py", "test_notebooks.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in LONG_MODULES)  # stable


@pytest.fixture(autouse=True)
def _reseed():
    np.random.seed(0)


@pytest.fixture(scope="session")
def mvp_model():
    """The seed's model: 2-D MVP, oddity task with slope 1.5."""
    return pn.WPPM(
        input_dim=2,
        prior=pn.Prior.default(2, scale=0.5),
        task=pn.OddityTask(slope=1.5),
        noise=pn.GaussianNoise(sigma=1.0),
    )


@pytest.fixture(scope="session")
def seed_truth():
    return {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}


@pytest.fixture(scope="session")
def seed_data(mvp_model, seed_truth):
    """400 trials around (0, 0), as in the seed example."""
    return pn.simulate_trials(jax.random.PRNGKey(0), mvp_model, seed_truth, 400)


class _Compilations(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.names.append(message.split(" with ")[0])


@pytest.fixture
def no_compilation():
    """A context manager that fails if JAX compiles anything inside it.

    Bad input must be refused in Python, before any tracing or compilation.
    """

    @contextlib.contextmanager
    def guard():
        handler = _Compilations()
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        try:
            with jax.log_compiles(True):
                yield
        finally:
            logger.removeHandler(handler)
        assert not handler.names, f"compiled before refusing: {handler.names}"

    return guard


@pytest.fixture(scope="session")
def float_bits():
    """A function giving float64 bit patterns: -0.0 != 0.0 and every last bit counts."""

    def bits(a):
        return np.asarray(a, dtype=np.float64).view(np.uint64)

    return bits


# -- the MVP's exact posterior ----------------------------------------------------
def _mvp_log_posterior(points, delta2, y, *, slope, oddity, scale):
    """The MVP's log posterior (up to a constant) at ``points`` ``(G, 2)`` of ``log_diag``.

    ``delta2``: squared probe - ref per axis ``(N, 2)``; prior N(0, scale^2) per
    entry; the oddity or 2AFC link with this slope; diag_term 1e-6; float64.
    """
    var = np.exp(points) + 1e-6  # (G, 2)
    d = np.sqrt((delta2[None] / var[:, None]).sum(-1))  # (G, N)
    # 1 - tanh(z) = 2 / (1 + exp(2z)), so log(1 - p) stays finite
    log_miss = -np.logaddexp(0.0, 2.0 * slope * d)
    if oddity:  # 1 - p = (1 - tanh) / 3
        log_miss += np.log(2.0 / 3.0)
    log_hit = np.log1p(-np.exp(log_miss))
    return -0.5 * (points**2).sum(1) / scale**2 + (y * log_hit + (1 - y) * log_miss).sum(-1)


@pytest.fixture(scope="session")
def mvp_grid_posterior():
    """The MVP's exact posterior of ``log_diag`` by quadrature on a grid (float64).

    Returns a function ``(ref, probe, responses, *, slope, oddity=True, scale=0.5,
    n=401) -> (grid, weights)``: ``grid`` holds the ``n * n`` points of
    ``[-5, 4] x [-8, 4]`` as rows ``(log_diag_0, log_diag_1)``, and ``weights``
    their posterior probabilities (summing to 1) under the prior N(0, scale^2) on
    each entry and the oddity (``oddity=True``) or 2AFC task with this slope
    (diag_term 1e-6), given ``responses`` ``(N,)``. It asserts that the grid holds
    the whole posterior: less than 1e-8 of the mass on its edge.
    """

    def posterior(ref, probe, responses, *, slope, oddity=True, scale=0.5, n=401):
        delta2 = (np.asarray(probe, float) - np.asarray(ref, float)) ** 2  # (N, 2)
        y = np.asarray(responses, float)
        a = np.linspace(-5.0, 4.0, n)
        b = np.linspace(-8.0, 4.0, n)  # an entry the trials barely probe: prior tails
        grid = np.stack([g.ravel() for g in np.meshgrid(a, b, indexing="ij")], 1)
        logp = np.concatenate([
            _mvp_log_posterior(grid[chunk], delta2, y, slope=slope, oddity=oddity, scale=scale)
            for chunk in np.array_split(np.arange(len(grid)), 40)])
        w = np.exp(logp - logp.max())
        w /= w.sum()
        edge = np.zeros((n, n), bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        assert w.reshape(n, n)[edge].sum() < 1e-8, "the grid must hold the posterior"
        return grid, w

    return posterior


@pytest.fixture(scope="session")
def seed_grid_posterior(mvp_grid_posterior, mvp_model, seed_data):
    """The seed data's exact posterior, ``(grid, weights)``."""
    stimuli = seed_data.stimuli
    return mvp_grid_posterior(stimuli[:, 0], stimuli[:, 1], seed_data.responses[:, 0],
                              slope=mvp_model.task.slope)


@pytest.fixture(scope="session")
def seed_posterior_moments(seed_grid_posterior):
    """Exact posterior mean and sd of ``log_diag`` given the seed data."""
    grid, w = seed_grid_posterior
    mean = w @ grid
    return mean, np.sqrt(w @ (grid - mean) ** 2)


# -- fits of the seed example, shared by the inference and posterior tests --------
@pytest.fixture(scope="session")
def seed_map_fit(mvp_model, seed_data):
    """MAP of the seed example: 1,000 SGD steps from zero."""
    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, momentum=0.9,
                          show_progress=False)
    return opt.fit(mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})


@pytest.fixture(scope="session")
def mvp_map_by_search(mvp_model):
    """``fn(trials, start)``: the seed model's MAP of ``log_diag`` given ``trials``.

    Nelder-Mead on the float64 log posterior of :func:`_mvp_log_posterior`,
    independent of the package and of NumPyro, to 1e-7 in each entry.
    """
    import scipy.optimize

    def fn(trials, start):
        ref, probe, y = (np.asarray(x, float) for x in trials)
        def loss(x):
            return -_mvp_log_posterior(x[None], (probe - ref) ** 2, y,
                                       slope=mvp_model.task.slope, oddity=True, scale=0.5)[0]

        return scipy.optimize.minimize(loss, np.asarray(start, float), method="Nelder-Mead",
                                       options={"xatol": 1e-7, "fatol": 1e-10,
                                                "maxiter": 4000}).x

    return fn


@pytest.fixture(scope="session")
def seed_laplace(seed_map_fit, seed_data):
    """The Laplace approximation at :func:`seed_map_fit` (exact Hessian)."""
    return pn.LaplaceApproximation().from_map(seed_map_fit, seed_data)


@pytest.fixture(scope="session", params=["normal", "lowrank"])
def seed_svi_fit(request, mvp_model, seed_data, seed_map_fit):
    """SVI fits of the seed example, one per Gaussian guide, started at the MAP."""
    sampler = pn.SVIApproximation(request.param, steps=3000, learning_rate=1e-2, seed=1,
                                  progress_bar=False)
    return sampler.fit(mvp_model, seed_data, init_params=seed_map_fit)


# -- psyphy 0.0.5 side by side ----------------------------------------------------
@pytest.fixture(scope="session")
def psyphy_twins():
    """A function building a full WPPM here and the same one in psyphy 0.0.5.

    ``psyphy_twins(input_dim, prior_settings, *, num_samples=None, bandwidth=None,
    student_t_df=None, diag_term=None) -> (ours, theirs)``. Both get
    ``Prior(input_dim=input_dim, **prior_settings)`` (with
    ``extra_embedding_dims=1``), an oddity task, Gaussian noise (Student-t with
    ``student_t_df``) and, when given, ``diag_term``. When ``num_samples`` or
    ``bandwidth`` is given, both tasks get that ``OddityTaskConfig`` and ours
    draws its Monte Carlo samples as psyphy does (``estimator="psyphy"``), so one
    key gives psyphy's numbers; otherwise both tasks keep their defaults.
    """
    psyphy_model = pytest.importorskip("psyphy.model")

    def build(input_dim, prior_settings, *, num_samples=None, bandwidth=None,
              student_t_df=None, diag_term=None):
        config = {k: v for k, v in (("num_samples", num_samples),
                                    ("bandwidth", bandwidth)) if v is not None}
        sides = []
        for lib, extra in ((pn, {"estimator": "psyphy"}), (psyphy_model, {})):
            task = (lib.OddityTask(config=lib.OddityTaskConfig(**config, **extra))
                    if config else lib.OddityTask())
            noise = (lib.GaussianNoise() if student_t_df is None
                     else lib.StudentTNoise(df=student_t_df))
            kwargs = {} if diag_term is None else {"diag_term": diag_term}
            sides.append(lib.WPPM(lib.Prior(input_dim=input_dim, **prior_settings),
                                  task, noise, input_dim=input_dim, extra_dims=1,
                                  **kwargs))
        return tuple(sides)

    return build


@pytest.fixture(scope="session")
def random_trials():
    """A function ``(input_dim, n=60, seed=0) -> (stimuli, responses)``.

    References uniform in ``[-0.8, 0.8]^d``, probes N(0, 0.05^2) away from them
    (``stimuli`` ``(n, 2, d)``), and coin-flip responses.
    """

    def study(input_dim, n=60, seed=0):
        rng = np.random.default_rng(seed)
        ref = rng.uniform(-0.8, 0.8, (n, input_dim))
        cmp = ref + rng.normal(0.0, 0.05, (n, input_dim))
        return np.stack([ref, cmp], 1), rng.integers(0, 2, n)

    return study


# -- full-WPPM draw stacks with known readouts -------------------------------------
@pytest.fixture(scope="session")
def random_rotations():
    """A function ``(key, n, e=3)``: ``n`` random orthogonal ``e x e`` matrices."""

    def rotations(key, n, e=3):
        q, r = np.linalg.qr(np.asarray(jax.random.normal(key, (n, e, e)), float))
        return q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]

    return rotations


@pytest.fixture(scope="session")
def scaled_stack(random_rotations):
    """A constant field (degree 0), its draws ``s_k W R_k`` (``s_0 = 1``, ``R_0 = I``).

    Without a diagonal term, Sigma = U U^T scales exactly by s_k^2. Returns
    ``(model, truth, s, {"W": draws})``.
    """
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=0), task, pn.GaussianNoise(),
                    diag_term=0.0)
    truth = model.init_params(jax.random.PRNGKey(4))
    s = np.exp(0.3 * np.asarray(jax.random.normal(jax.random.PRNGKey(5), (40,))))
    R = random_rotations(jax.random.PRNGKey(6), 40)
    s[0], R[0] = 1.0, np.eye(3)  # draw 0 is the truth itself
    W = s[:, None, None, None, None] * np.einsum("...e,nef->n...f",
                                                   np.asarray(truth["W"]), R)
    return model, truth, s, {"W": jnp.asarray(W, jnp.float32)}


# -- true thresholds of fields drawn from the prior ------------------------------------
def _plain_mc_p_correct(model, params, ref, probe, noise):
    """Oddity p(correct) of pairs ``(T, 2)`` by plain Monte Carlo from Sigma(x) alone.

    Two samples of the reference and one of the probe, ``z ~ N(s, Sigma(s))``;
    the probe is called odd when it is farther from both reference samples than
    they are from each other, in the metric of ``(2 Sigma(r) + Sigma(c)) / 3``,
    smoothed by the task's logistic bandwidth. ``noise``: ``(chunks, 3, n, 2)``.
    """
    cov_r = model.local_covariance(params, ref)
    cov_c = model.local_covariance(params, probe)
    chol = jnp.linalg.cholesky((2.0 * cov_r + cov_c) / 3.0)

    def white(m):
        return jax.scipy.linalg.solve_triangular(chol, m, lower=True)

    load_r = white(jnp.linalg.cholesky(cov_r))
    load_c = white(jnp.linalg.cholesky(cov_c))
    gap = white((probe - ref)[..., None])[..., 0]
    h = model.task.config.bandwidth

    def chunk(e):
        z0 = jnp.einsum("tij,nj->tni", load_r, e[0])
        z1 = jnp.einsum("tij,nj->tni", load_r, e[1])
        z2 = gap[:, None] + jnp.einsum("tij,nj->tni", load_c, e[2])
        d01, d02, d12 = (jnp.sum((a - b) ** 2, -1) for a, b in
                         ((z0, z1), (z0, z2), (z1, z2)))
        return jnp.sum(jax.nn.sigmoid((jnp.minimum(d02, d12) - d01) / h), -1)

    return jnp.sum(jax.lax.map(chunk, noise), 0) / (noise.shape[0] * noise.shape[2])


@pytest.fixture(scope="session")
def prior_field_thresholds():
    """Full-WPPM fields drawn from the default prior, with their true thresholds.

    Returns ``(model, draws, refs, angles, radii)``: two draws of ``W`` (a
    stack), three references, 64 directions offset by half a step from the
    readouts' evenly spaced ones (so a readout is also checked between its own
    directions) and ``radii`` of shape ``(2, 3, 64)``: where p(correct) first
    reaches 2/3, found per direction by a scan and plain bisection on a
    ``2**16``-sample Monte Carlo p(correct) written here (no estimator or root
    finder of the package; about 1% radius error). All directions reach it.
    """
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=4), pn.OddityTask())
    draws = [model.init_params(jax.random.PRNGKey(seed)) for seed in (500, 507)]
    refs = np.array([[-0.3, 0.3], [0.3, -0.3], [-0.3, -0.3]])
    angles = (np.arange(64) + 0.5) * 2 * np.pi / 64
    u = np.stack([np.cos(angles), np.sin(angles)], -1)
    x, v = np.repeat(refs, 64, 0), np.tile(u, (3, 1))  # (192, 2) each
    with np.errstate(divide="ignore"):
        edge = np.min(np.where(v > 0, (1 - x) / v, np.where(v < 0, (-1 - x) / v,
                                                             np.inf)), -1)
    noise = jax.random.normal(jax.random.PRNGKey(123), (64, 3, 2**10, 2))
    p_fn = jax.jit(lambda params, t: _plain_mc_p_correct(
        model, params, jnp.asarray(x), jnp.asarray(x + t[:, None] * v), noise))
    radii = []
    for params in draws:
        lo, hi = np.zeros(len(x)), np.full(len(x), np.nan)
        for k in range(1, 11):  # scan for the first crossing
            t = edge * k / 10
            up = (np.asarray(p_fn(params, t)) >= 2 / 3) & np.isnan(hi)
            hi[up] = t[up]
            lo = np.where(np.isnan(hi), t, lo)
        assert not np.isnan(hi).any(), "every direction must reach 2/3"
        for _ in range(13):  # bisection
            mid = 0.5 * (lo + hi)
            up = np.asarray(p_fn(params, mid)) >= 2 / 3
            lo, hi = np.where(up, lo, mid), np.where(up, mid, hi)
        radii.append((0.5 * (lo + hi)).reshape(3, 64))
    stack = jax.tree.map(lambda *w: jnp.stack(w), *draws)
    return model, stack, refs, angles, np.array(radii)


@pytest.fixture(scope="session")
def best_ellipse_miss():
    """A function ``(radii, angles) -> miss``: the least-squares ellipse's misses.

    The ellipse minimising the squared relative radius miss: the best of
    scipy's ``least_squares`` from a circle and from the linear fits of
    ``u^T A u = 1 / t^2`` (plain, and with rows scaled by ``t^2``); the problem
    is not convex. ``miss`` is its relative radius miss along each direction,
    so ``abs(miss).max()`` is its misfit.
    """
    from scipy.optimize import least_squares

    def best(radii, angles):
        rows = np.stack([np.cos(angles) ** 2, 2 * np.cos(angles) * np.sin(angles),
                         np.sin(angles) ** 2], -1)

        def rel(coef):
            return 1 / np.sqrt(np.abs(rows @ coef)) / radii - 1

        r2 = radii[:, None] ** 2
        starts = [np.array([1.0, 0.0, 1.0]) / np.median(radii) ** 2,
                  np.linalg.lstsq(rows, 1 / r2[:, 0], rcond=None)[0],
                  np.linalg.lstsq(rows * r2, np.ones_like(radii), rcond=None)[0]]
        fits = [least_squares(rel, c, xtol=1e-12, ftol=1e-12).x for c in starts
                if c[0] > 0 and c[0] * c[2] > c[1] ** 2]
        return min((rel(c) for c in fits), key=lambda m: np.sum(m**2))

    return best


@pytest.fixture(scope="session")
def ellipse_radii():
    """A function ``(cov, angles) -> radii``: where ``x^T cov^-1 x = 1`` lies along
    each direction, for covariances of shape ``(..., 2, 2)``."""

    def radii(cov, angles):
        u = np.stack([np.cos(angles), np.sin(angles)], -1)
        inverse = np.linalg.inv(np.asarray(cov, dtype=float))
        return 1 / np.sqrt(np.einsum("ai,...ij,aj->...a", u, inverse, u))

    return radii
