"""Monte Carlo oddity rule against psyphy 0.0.5's OddityTask."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.core.oddity.psyphy_draws import (
    PROB_CLIP,
    oddity_p_correct,
    standard_normal_draws,
    student_t_draws,
)

psyphy_model = pytest.importorskip("psyphy.model")

DEGREE = 3
DIAG = 1e-6
BANDWIDTH = 1e-2
NUM_TRIALS = 8
NUM_SAMPLES = 20_000  # one draw shape per input_dim keeps compilation cheap
DF = 3.0


def _weights(input_dim):
    prior = psyphy_model.Prior(input_dim=input_dim, basis_degree=DEGREE)
    return prior.sample_params(jax.random.PRNGKey(0))["W"]


def _stimuli(input_dim, num_trials=NUM_TRIALS, spread=0.15):
    """References in [-0.8, 0.8]^d, comparisons about one noise s.d. away."""
    key_ref, key_gap = jax.random.split(jax.random.PRNGKey(1))
    ref = jax.random.uniform(key_ref, (num_trials, input_dim), minval=-0.8, maxval=0.8)
    gap = spread * jax.random.normal(key_gap, (num_trials, input_dim))
    return ref, jnp.clip(ref + gap, -1.0, 1.0)


def _draws(key, input_dim, family="normal"):
    sizes = (NUM_TRIALS, NUM_SAMPLES, input_dim + 1, input_dim)
    if family == "normal":
        return standard_normal_draws(key, *sizes)
    return student_t_draws(key, *sizes, df=DF)


def _ours_eager(W, ref, cmp, noise, **kwargs):
    kwargs = {"diag_term": DIAG, "bandwidth": BANDWIDTH} | kwargs
    U_ref, U_cmp = wishart_sqrt(W, ref, DEGREE), wishart_sqrt(W, cmp, DEGREE)
    return oddity_p_correct(U_ref, U_cmp, ref, cmp, noise, **kwargs)


_ours = jax.jit(_ours_eager)  # diag_term, bandwidth and clip may be traced


@functools.lru_cache
def _psyphy_predictor(input_dim, family):
    """psyphy's per-trial p(correct), keyed exactly as its log-likelihood is."""
    task = psyphy_model.OddityTask(
        psyphy_model.OddityTaskConfig(num_samples=NUM_SAMPLES, bandwidth=BANDWIDTH)
    )
    noise = (
        psyphy_model.GaussianNoise()
        if family == "normal"
        else psyphy_model.StudentTNoise(df=DF)
    )
    model = psyphy_model.WPPM(
        psyphy_model.Prior(input_dim=input_dim, basis_degree=DEGREE),
        task,
        noise,
        input_dim=input_dim,
        diag_term=DIAG,
    )

    @jax.jit
    def predict(W, ref, cmp, key):
        stimuli = jnp.stack([ref, cmp], axis=1)
        keys = jax.random.split(key, ref.shape[0])
        one = lambda s, k: task.predict({"W": W}, s, model, key=k)[0]
        return jax.vmap(one)(stimuli, keys)

    return predict


@pytest.mark.parametrize(
    ("input_dim", "family"),
    [pytest.param(1, "normal", marks=pytest.mark.slow), (2, "normal"),
     pytest.param(3, "normal", marks=pytest.mark.slow),
     pytest.param(2, "student_t", marks=pytest.mark.slow)],
)
def test_same_key_reproduces_psyphy(input_dim, family):
    W, (ref, cmp) = _weights(input_dim), _stimuli(input_dim)
    key = jax.random.PRNGKey(2)
    expected = _psyphy_predictor(input_dim, family)(W, ref, cmp, key)
    # Same draws, different float32 algebra (whitening vs LU solve): observed
    # differences are below 5e-7.
    got = _ours(W, ref, cmp, _draws(key, input_dim, family))
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("input_dim", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_independent_draws_agree_with_psyphy_within_mc_error(input_dim):
    W, (ref, cmp) = _weights(input_dim), _stimuli(input_dim)
    ours = np.asarray(_ours(W, ref, cmp, _draws(jax.random.PRNGKey(4), input_dim)))
    theirs = np.asarray(
        _psyphy_predictor(input_dim, "normal")(W, ref, cmp, jax.random.PRNGKey(5))
    )
    # Each estimate averages NUM_SAMPLES values in [0, 1] with mean p, so its
    # variance is at most p (1 - p) / NUM_SAMPLES; the two are independent.
    p = 0.5 * (ours + theirs)
    se = np.sqrt(2.0 * p * (1.0 - p) / NUM_SAMPLES)
    assert np.all(np.abs(ours - theirs) <= 5.0 * se), (ours, theirs, se)
    assert np.ptp(p) > 0.1  # the trials probe more than one level of p


@pytest.mark.parametrize(
    ("input_dim", "family"),
    [(1, "normal"), (2, "normal"), (3, "normal"),
     pytest.param(2, "student_t", marks=pytest.mark.slow)],
)
def test_identical_stimuli_give_one_third(input_dim, family):
    # With cmp == ref the three samples are exchangeable, so the reference pair
    # is the closest of the three pairs with probability exactly 1/3; the
    # logistic smoothing moves this by O(bandwidth^2), far below the MC error.
    W = _weights(input_dim)
    ref, _ = _stimuli(input_dim)
    p = _ours(W, ref, ref, _draws(jax.random.PRNGKey(6), input_dim, family))
    se = np.sqrt((1 / 3) * (2 / 3) / (NUM_TRIALS * NUM_SAMPLES))
    assert abs(float(jnp.mean(p)) - 1 / 3) < 5 * se


def test_probability_is_clipped_like_psyphy():
    W = _weights(2)
    noise = _draws(jax.random.PRNGKey(7), 2)[0]  # one draw shared by all trials
    ref, cmp = jnp.array([-0.9, -0.9]), jnp.array([0.9, 0.9])  # far apart
    assert float(_ours(W, ref, cmp, noise, clip=0.0)) == 1.0
    assert float(_ours(W, ref, cmp, noise)) == np.float32(1.0 - PROB_CLIP)
    ref, cmp = _stimuli(2, 64)
    p = _ours(W, ref, cmp, noise)
    assert bool(jnp.all((p >= PROB_CLIP) & (p <= np.float32(1.0 - PROB_CLIP))))


@pytest.mark.parametrize("input_dim", [1, pytest.param(2, marks=pytest.mark.slow),
                                       pytest.param(3, marks=pytest.mark.slow)])
def test_deterministic_and_jit_matches_eager(input_dim):
    W, (ref, cmp) = _weights(input_dim), _stimuli(input_dim)
    noise = _draws(jax.random.PRNGKey(8), input_dim)
    eager = _ours_eager(W, ref, cmp, noise)
    np.testing.assert_array_equal(eager, _ours_eager(W, ref, cmp, noise))
    np.testing.assert_allclose(_ours(W, ref, cmp, noise), eager, atol=1e-6)
    other = _ours(W, ref, cmp, _draws(jax.random.PRNGKey(9), input_dim))
    assert not np.allclose(other, eager, rtol=0.0, atol=1e-4)


def test_shared_draws_broadcast_over_trial_axes():
    W = _weights(2)
    ref, cmp = _stimuli(2, 6)
    ref, cmp = ref.reshape(2, 3, 2), cmp.reshape(2, 3, 2)
    shared = _draws(jax.random.PRNGKey(10), 2)[0]
    tiled = jnp.broadcast_to(shared, (2, 3) + shared.shape)
    p = _ours(W, ref, cmp, shared)
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p, _ours(W, ref, cmp, tiled), rtol=1e-6)


@pytest.mark.parametrize("input_dim", [1, pytest.param(2, marks=pytest.mark.slow),
                                       pytest.param(3, marks=pytest.mark.slow)])
def test_gradient_is_finite_and_matches_finite_differences(input_dim):
    W, (ref, cmp) = _weights(input_dim), _stimuli(input_dim)
    noise = _draws(jax.random.PRNGKey(11), input_dim)

    def loss(W):  # a Bernoulli log-likelihood with all answers correct
        return jnp.sum(jnp.log(_ours(W, ref, cmp, noise, bandwidth=0.1)))

    grad = jax.grad(loss)(W)
    assert bool(jnp.all(jnp.isfinite(grad)))
    direction = jax.random.normal(jax.random.PRNGKey(12), W.shape)
    direction = direction * jnp.linalg.norm(W) / jnp.linalg.norm(direction)
    # A 0.1% step of W: the O(eps^2) truncation and the float32 rounding of
    # the loss (~1e-6 / eps relative) each stay well below 1%.
    eps = 1e-3
    numeric = (loss(W + eps * direction) - loss(W - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(jnp.vdot(grad, direction), numeric, rtol=1e-2)
    cmp_grad = jax.grad(lambda c: jnp.sum(_ours(W, ref, c, noise)))(cmp)
    assert bool(jnp.all(jnp.isfinite(cmp_grad)))


@pytest.mark.parametrize("family", ["normal", "student_t"])
def test_draw_shapes_and_per_trial_independence(family):
    noise = _draws(jax.random.PRNGKey(13), 2, family)
    assert noise.shape == (NUM_TRIALS, 3, 5, NUM_SAMPLES)
    assert not np.allclose(noise[0], noise[1])
    assert not np.allclose(noise[0, 0], noise[0, 1])
    assert standard_normal_draws(jax.random.PRNGKey(13), None, 7, 4, 3).shape == (
        3,
        7,
        7,
    )


def _subsample(draws):
    """100,000 draws taken evenly across trials, samples, e and d columns."""
    flat = np.asarray(draws).ravel()
    return flat[:: flat.size // 100_000]


def test_student_t_draws_follow_student_t():
    draws = _subsample(_draws(jax.random.PRNGKey(0), 2, "student_t"))
    assert stats.kstest(draws, stats.t(DF).cdf).pvalue > 1e-3
    # the test has power: the same draws are told apart from a normal
    assert stats.kstest(draws, stats.norm.cdf).pvalue < 1e-6


def test_student_t_df_is_honoured():
    draws = student_t_draws(
        jax.random.PRNGKey(0), NUM_TRIALS, NUM_SAMPLES, 3, 2, df=10.0
    )
    assert stats.kstest(_subsample(draws), stats.t(10.0).cdf).pvalue > 1e-3
    assert stats.kstest(_subsample(draws), stats.t(DF).cdf).pvalue < 1e-6


def test_normal_draws_follow_standard_normal():
    draws = _subsample(_draws(jax.random.PRNGKey(0), 2))
    assert stats.kstest(draws, stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize("shape", [(3, 400, 5), (2, 5, 400), (3, 6, 400)])
def test_noise_with_wrong_layout_is_rejected(shape):
    W = _weights(2)
    ref, cmp = _stimuli(2)
    with pytest.raises(ValueError, match="mc_samples must have shape"):
        _ours(W, ref, cmp, jnp.zeros(shape))


@pytest.mark.parametrize(
    "sizes", [(0, 50, 3, 2), (None, 50.5, 3, 2), (None, 50, 3, True)]
)
def test_bad_draw_sizes_are_rejected(sizes):
    with pytest.raises(ValueError, match="positive integers"):
        standard_normal_draws(jax.random.PRNGKey(0), *sizes)
