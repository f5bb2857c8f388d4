"""LaplaceApproximation against a plain-JAX Hessian and the exact posterior.

On the MVP the truths are the Hessian of a log posterior written here in plain
JAX and the exact posterior by grid quadrature; on the full WPPM, the Fisher
precision against ``jax.jacrev``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.mala import run_mala
from psyphy_numpyro.core.links import oddity_mvp_logits
from psyphy_numpyro.inference.langevin import LangevinSampler
from psyphy_numpyro.inference.laplace import LaplaceApproximation
from psyphy_numpyro.inference.svi import SVIApproximation

SCALE, SLOPE = 0.5, 1.5  # the conftest model's prior sd and task slope


def neg_log_posterior(log_diag, stimuli, y):
    """The MVP's negative log posterior in plain JAX (no NumPyro)."""
    delta = stimuli[:, 1] - stimuli[:, 0]
    d = jnp.sqrt(jnp.sum(delta**2 / (jnp.exp(log_diag) + 1e-6), axis=-1))
    logits = oddity_mvp_logits(d, SLOPE)
    loglik = jnp.sum(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits))
    return -(loglik - 0.5 * jnp.sum(log_diag**2) / SCALE**2)


def test_laplace_covariance_is_the_inverse_hessian(seed_laplace, seed_map_fit,
                                                   seed_data):
    x = jnp.asarray(seed_map_fit.params["log_diag"])
    y = jnp.asarray(seed_data.responses[:, 0], dtype=jnp.float32)
    H = np.asarray(jax.hessian(neg_log_posterior)(x, jnp.asarray(seed_data.stimuli), y))
    np.testing.assert_allclose(seed_laplace.result.precision, H, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(seed_laplace.cov, np.linalg.inv(H.astype(float)),
                               rtol=2e-3)
    np.testing.assert_array_equal(seed_laplace.params["log_diag"],
                                  seed_map_fit.params["log_diag"])
    assert seed_laplace.hessian == "exact"


def test_laplace_matches_quadrature(seed_laplace, seed_posterior_moments):
    mean, sd = seed_posterior_moments
    est = np.asarray(seed_laplace.params["log_diag"])
    np.testing.assert_array_less(np.abs(est - mean), 0.3 * sd)
    np.testing.assert_allclose(seed_laplace.stddev()["log_diag"], sd, rtol=0.15)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LaplaceApproximation("newton"), ValueError, "hessian"),
        (lambda: LaplaceApproximation(seed=-1), ValueError, "seed"),
    ],
)
def test_bad_settings_are_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_fit_inputs_are_rejected(mvp_model, seed_data, seed_map_fit, seed_laplace):
    with pytest.raises(ValueError, match="data is required"):  # a MAP without its trials
        LaplaceApproximation().from_map(pn.MAPPosterior(seed_map_fit.params, mvp_model))
    # MAPOptimizer's fits carry their trials, so the data may be left out
    np.testing.assert_allclose(LaplaceApproximation().from_map(seed_map_fit).result.cov,
                               seed_laplace.result.cov, rtol=1e-5)
    with pytest.raises(TypeError, match="map_posterior"):
        LaplaceApproximation().from_map({"log_diag": jnp.zeros(2)}, seed_data)
    wrong = pn.MAPPosterior({"log_diag": jnp.zeros(3)}, mvp_model)
    with pytest.raises(ValueError, match="map_posterior.params"):
        LaplaceApproximation().from_map(wrong, seed_data)
    with pytest.raises(TypeError, match="WPPM"):
        SVIApproximation(steps=10).fit(object(), seed_data)
    with pytest.raises(ValueError, match="init_params"):
        SVIApproximation(steps=10).fit(mvp_model, seed_data, {"log_diag": jnp.zeros(5)})
    with pytest.raises(ValueError, match="stimuli"):
        LangevinSampler().fit(mvp_model, (np.zeros((4, 3)), np.ones((4, 3)), np.ones(4)))
    with pytest.raises(ValueError, match="n must be"):
        seed_laplace.sample(0, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="num_draws"):
        seed_laplace.to_inference_data(0)
    with pytest.raises(ValueError, match="num_samples"):
        run_mala(jax.random.PRNGKey(0), mvp_model.numpyro_model, num_samples=0,
                 step_size=0.1)


@pytest.mark.slow
def test_full_wppm_laplace_and_svi_smoke():
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2),
                    pn.OddityTask(config=pn.OddityTaskConfig(num_samples=20)),
                    pn.GaussianNoise())
    params = model.init_params(jax.random.PRNGKey(3))
    rng = np.random.default_rng(0)
    ref = rng.uniform(-0.8, 0.8, (100, 2))
    probe = ref + rng.normal(0.0, 0.05, (100, 2))
    data = pn.TrialData(np.stack([ref, probe], 1), rng.integers(0, 2, 100))

    laplace = LaplaceApproximation().from_map(pn.MAPPosterior(params, model), data)
    assert laplace.hessian == "fisher"
    # the estimator unset: the deterministic quadrature rule, no draws to fix
    assert laplace.model.estimator == "quadrature" and laplace.model_kwargs == {}
    assert model.estimator == "mc"  # the MAP's model is untouched
    chosen = pn.WPPM(model.prior, pn.OddityTask(config=pn.OddityTaskConfig(
        num_samples=20, estimator="mc")))  # kept when chosen: fixed draws
    kept = LaplaceApproximation().from_map(pn.MAPPosterior(params, chosen), data)
    assert kept.model is chosen and set(kept.model_kwargs) == {"mc_samples"}
    # the Fisher precision, from reverse mode only, against jax.jacrev
    trials = laplace.trials

    def logits(W):
        return laplace.model.trial_logits({"W": W}, trials.ref, trials.probe)

    J = np.asarray(jax.jacrev(logits)(params["W"])).reshape(100, -1)
    p = np.asarray(jax.nn.sigmoid(logits(params["W"])))
    prior_precision = np.diag(1.0 / model.prior.density_stddev().ravel() ** 2)
    want = prior_precision + (J.T * (p * (1 - p))) @ J
    np.testing.assert_allclose(laplace.result.precision, want, rtol=1e-3,
                               atol=1e-3 * np.abs(want).max())
    assert laplace.result.null_directions.shape == (54, 3)
    assert np.all(laplace.result.eigenvalues > 0)
    draws = laplace.sample(50, key=jax.random.PRNGKey(0))["W"]
    assert draws.shape == (50, 3, 3, 2, 3) and np.all(np.isfinite(draws))
    # no spread along the rotations of the embedding
    offsets = np.asarray(draws - params["W"]).reshape(50, -1)
    spread = np.abs(offsets @ laplace.result.null_directions).max()
    assert spread < 1e-4 * np.abs(offsets).max()

    svi = SVIApproximation("lowrank", steps=50, learning_rate=1e-3, progress_bar=False)
    post = svi.fit(model, data, init_params=params)
    assert post.model.estimator == "quadrature" and post.model_kwargs == {}
    assert np.all(np.isfinite(post.losses))
    assert post.sample(4, key=jax.random.PRNGKey(1))["W"].shape == (4, 3, 3, 2, 3)
    for fit in (laplace, post):
        idata = fit.to_inference_data(20, posterior_predictive=False)
        assert idata.posterior["W"].dims == ("chain", "draw", "basis_i", "basis_j",
                                             "dim", "embed")
        assert idata.log_likelihood["y"].shape == (1, 20, 100)
        assert np.all(np.isfinite(idata.log_likelihood["y"]))
