"""Laplace, SVI and Langevin posteriors against independent truths.

On the MVP the truth is the exact posterior by grid quadrature
(``test_mcmc.grid_posterior``) and, for the Laplace curvature, a plain-JAX
log posterior written here from :mod:`psyphy_numpyro.likelihood` and the
prior's formula.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from numpyro.infer.util import log_density
from test_mcmc import grid_posterior

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import draws_to_inference_data
from psyphy_numpyro.core.infer.laplace import (
    fisher_precision,
    gaussian_from_precision,
    laplace_approximation,
    rotation_directions,
)
from psyphy_numpyro.core.infer.mala import run_mala
from psyphy_numpyro.core.infer.svi import fit_svi
from psyphy_numpyro.core.links import oddity_mvp_logits
from psyphy_numpyro.inference.langevin import LangevinSampler, NumpyroSampler
from psyphy_numpyro.inference.laplace import LaplaceApproximation
from psyphy_numpyro.inference.svi import SVIApproximation
from psyphy_numpyro.posterior.laplace import LaplacePosterior
from psyphy_numpyro.posterior.parameter_posterior import ParameterPosterior

SCALE, SLOPE = 0.5, 1.5  # the conftest model's prior sd and task slope


@pytest.fixture(scope="module")
def truth(seed_data, mvp_model):
    """Exact posterior mean and sd of log_diag by quadrature."""
    return grid_posterior(seed_data, mvp_model.task, scale=SCALE, n=241)


@pytest.fixture(scope="module")
def map_fit(mvp_model, seed_data):
    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, momentum=0.9,
                          show_progress=False)
    return opt.fit(mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})


@pytest.fixture(scope="module")
def laplace(map_fit, seed_data):
    return LaplaceApproximation().from_map(map_fit, seed_data)


def neg_log_posterior(log_diag, stimuli, y):
    """The MVP's negative log posterior in plain JAX (no NumPyro)."""
    delta = stimuli[:, 1] - stimuli[:, 0]
    d = jnp.sqrt(jnp.sum(delta**2 / (jnp.exp(log_diag) + 1e-6), axis=-1))
    logits = oddity_mvp_logits(d, SLOPE)
    loglik = jnp.sum(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits))
    return -(loglik - 0.5 * jnp.sum(log_diag**2) / SCALE**2)


# -- Laplace -------------------------------------------------------------------
def test_laplace_covariance_is_the_inverse_hessian(laplace, map_fit, seed_data):
    x = jnp.asarray(map_fit.params["log_diag"])
    y = jnp.asarray(seed_data.responses[:, 0], dtype=jnp.float32)
    H = np.asarray(jax.hessian(neg_log_posterior)(x, jnp.asarray(seed_data.stimuli), y))
    np.testing.assert_allclose(laplace.result.precision, H, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(laplace.cov, np.linalg.inv(H.astype(float)), rtol=2e-3)
    np.testing.assert_array_equal(laplace.params["log_diag"], map_fit.params["log_diag"])
    assert laplace.hessian == "exact"


def test_laplace_matches_quadrature(laplace, truth):
    mean, sd = truth
    est = np.asarray(laplace.params["log_diag"])
    np.testing.assert_array_less(np.abs(est - mean), 0.3 * sd)
    np.testing.assert_allclose(laplace.stddev()["log_diag"], sd, rtol=0.15)


def test_laplace_draws_have_its_mean_and_covariance(laplace):
    draws = np.asarray(laplace.sample(20000, key=jax.random.PRNGKey(3))["log_diag"])
    assert draws.shape == (20000, 2)
    sd = np.sqrt(np.diag(laplace.cov))
    np.testing.assert_array_less(np.abs(draws.mean(0) - laplace.params["log_diag"]),
                                 0.05 * sd)
    np.testing.assert_allclose(np.cov(draws.T), laplace.cov, rtol=0.05,
                               atol=0.05 * sd.max() ** 2)


def test_fisher_precision_is_prior_plus_fisher_information(mvp_model, map_fit, seed_data):
    trials = mvp_model.trials(seed_data)
    x = jnp.asarray(map_fit.params["log_diag"])

    def logits(v):
        d = jnp.sqrt(jnp.sum((trials.probe - trials.ref) ** 2 / (jnp.exp(v) + 1e-6), -1))
        return oddity_mvp_logits(d, SLOPE)

    J, p = np.asarray(jax.jacfwd(logits)(x)), np.asarray(jax.nn.sigmoid(logits(x)))
    want = np.eye(2) / SCALE**2 + (J.T * (p * (1 - p))) @ J
    got = fisher_precision(mvp_model, map_fit.params, trials)
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_laplace_of_any_numpyro_model_uses_its_log_density():
    import numpyro
    import numpyro.distributions as dist

    def model(y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 2.0))
        numpyro.sample("y", dist.Normal(mu, 1.0).expand([3]).to_event(1), obs=y)

    y = jnp.array([0.5, 1.0, 2.0])
    res = laplace_approximation(model, {"mu": jnp.array(1.0)}, y)
    # conjugate normal: precision 1/4 + 3, whatever the expansion point
    np.testing.assert_allclose(res.precision, [[3.25]], rtol=1e-5)
    np.testing.assert_allclose(res.cov, [[1 / 3.25]], rtol=1e-5)


def test_gaussian_from_precision_null_directions_and_indefinite():
    mean = {"x": jnp.zeros(3)}
    res = gaussian_from_precision(mean, np.diag([1.0, 2.0, 3.0]),
                                  null_directions=np.array([[0.0], [0.0], [1.0]]))
    np.testing.assert_allclose(res.cov, np.diag([1.0, 0.5, 0.0]), atol=1e-12)
    np.testing.assert_allclose(res.scale @ res.scale.T, res.cov, atol=1e-12)
    with pytest.warns(RuntimeWarning, match="not a local maximum"):
        bad = gaussian_from_precision({"x": jnp.zeros(2)}, np.diag([1.0, -1.0]))
    assert bad.scale is None
    post = LaplacePosterior(bad, None, None, {})
    with pytest.raises(ValueError, match="not positive definite"):
        post.sample(3, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="precision must have shape"):
        gaussian_from_precision(mean, np.eye(2))


def test_rotation_directions_span_the_embedding_rotations():
    W = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (3, 3, 2, 3)))
    Q = rotation_directions({"W": W})
    assert Q.shape == (W.size, 3)  # e (e - 1) / 2 with e = 3
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-10)
    # the tangent of a small rotation lies in their span
    A = np.array([[0.0, 0.3, -0.2], [-0.3, 0.0, 0.5], [0.2, -0.5, 0.0]])
    t = (W @ A).ravel()
    np.testing.assert_allclose(Q @ (Q.T @ t), t, atol=1e-10)
    assert rotation_directions({"W": np.zeros((3, 3, 2, 3))}).shape == (W.size, 0)


# -- SVI -----------------------------------------------------------------------
@pytest.fixture(scope="module", params=["normal", "lowrank"])
def svi_fit(request, mvp_model, seed_data, map_fit):
    sampler = SVIApproximation(request.param, steps=3000, learning_rate=1e-2, seed=1,
                               progress_bar=False)
    return sampler.fit(mvp_model, seed_data, init_params=map_fit)


def test_svi_matches_quadrature(svi_fit, truth):
    mean, sd = truth
    draws = np.asarray(svi_fit.sample(20000, key=jax.random.PRNGKey(2))["log_diag"])
    assert draws.shape == (20000, 2)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    # a Gaussian fitted by KL(q || p) is a little narrower than this posterior
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.12)
    np.testing.assert_allclose(svi_fit.params["log_diag"], draws.mean(0),
                               atol=0.05 * sd.max())
    losses = svi_fit.losses
    assert np.all(np.isfinite(losses)) and losses.shape == (3000,)
    assert losses[-500:].mean() < losses[:50].mean()  # the ELBO improved


def test_fit_svi_takes_any_optax_optimizer():
    import numpyro
    import numpyro.distributions as dist

    def model():
        numpyro.sample("x", dist.Normal(1.0, 2.0))

    res = fit_svi(jax.random.PRNGKey(0), model, num_steps=800, guide="multivariate",
                  optimizer=optax.adam(optax.cosine_decay_schedule(0.1, 800)),
                  progress_bar=False)
    loc = res.params["auto_loc"]
    np.testing.assert_allclose(loc, [1.0], atol=0.1)
    draws = res.guide.sample_posterior(jax.random.PRNGKey(1), res.params,
                                       sample_shape=(4000,))["x"]
    np.testing.assert_allclose(np.std(draws), 2.0, rtol=0.1)


# -- Langevin (MALA) -----------------------------------------------------------
def test_mala_matches_quadrature(mvp_model, seed_data, truth):
    mean, sd = truth
    post = LangevinSampler(steps=1200, step_size=0.1, num_warmup=200, seed=1,
                           progress_bar=False).fit(mvp_model, seed_data)
    draws = np.asarray(post.samples["log_diag"])
    assert draws.shape == (1200, 2)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.12)
    assert 0.3 < post.accept_rate < 0.95
    assert isinstance(post, ParameterPosterior)
    assert post.sample(5, key=jax.random.PRNGKey(0))["log_diag"].shape == (5, 2)


def test_mala_temperature_divides_the_potential(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    sampler = LangevinSampler(steps=20, step_size=5.0, temperature=2.0, seed=0,
                              progress_bar=False)
    # steps this large are nearly all rejected: the sampler says so
    with pytest.warns(RuntimeWarning, match="accepted"):
        post = sampler.fit(mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})
    energy = np.asarray(post.mcmc.get_extra_fields()["potential_energy"])
    for i in (0, 19):
        draw = {"log_diag": post.samples["log_diag"][i]}
        log_joint = log_density(mvp_model.numpyro_model, tuple(trials), {}, draw)[0]
        np.testing.assert_allclose(energy[i], -float(log_joint) / 2.0, rtol=1e-5)
    # the per-trial log-likelihood stays untempered
    idata = post.to_inference_data(posterior_predictive=False)
    assert {"posterior", "log_likelihood", "sample_stats"} <= set(idata.groups())
    assert idata.posterior["log_diag"].dims == ("chain", "draw", "dim")
    want = mvp_model.log_likelihood({"log_diag": post.samples["log_diag"][7]}, trials)
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 7], want, rtol=1e-5)
    assert "temperature=2.0" in repr(post)


def test_numpyro_sampler_is_nuts_with_psyphys_steps():
    sampler = NumpyroSampler(300, num_chains=2, progress_bar=False)
    assert isinstance(sampler, pn.NUTSSampler)
    assert (sampler.num_samples, sampler.num_warmup, sampler.num_chains) == (300, 300, 2)
    assert NumpyroSampler(300, num_warmup=50).num_warmup == 50


def test_every_posterior_satisfies_the_protocol(laplace, map_fit, svi_fit, mvp_model):
    for post in (map_fit, laplace, svi_fit):
        assert isinstance(post, ParameterPosterior), type(post).__name__
        assert post.model is mvp_model
        assert post.sample(3, key=jax.random.PRNGKey(0))["log_diag"].shape == (3, 2)
    assert not isinstance({"log_diag": jnp.zeros(2)}, ParameterPosterior)


# -- ArviZ ---------------------------------------------------------------------
@pytest.mark.parametrize("which", ["laplace", "svi"])
def test_to_inference_data(which, laplace, svi_fit, mvp_model, seed_data):
    post = laplace if which == "laplace" else svi_fit
    idata = post.to_inference_data(300, seed=1)
    expected = {"posterior": {"log_diag"}, "log_likelihood": {"y"},
                "posterior_predictive": {"y"}, "observed_data": {"y"},
                "constant_data": {"ref", "probe"}}
    for group, names in expected.items():
        assert group in idata.groups(), group
        assert names <= set(idata[group].data_vars)
    assert idata.posterior["log_diag"].dims == ("chain", "draw", "dim")
    assert idata.posterior.sizes["chain"] == 1 and idata.posterior.sizes["draw"] == 300
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "trial")
    assert idata.attrs["inference"] == which
    draw = {"log_diag": np.asarray(idata.posterior["log_diag"][0, 42])}
    want = mvp_model.log_likelihood(draw, mvp_model.trials(seed_data))
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 42], want, rtol=1e-5)
    np.testing.assert_array_equal(idata.observed_data["y"], seed_data.responses[:, 0])


def test_draws_to_inference_data_checks_the_draws(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    with pytest.raises(ValueError, match="key 'log_diag'"):
        draws_to_inference_data({"W": np.zeros((1, 3, 2))}, mvp_model, trials)
    with pytest.raises(ValueError, match="chain, draw"):
        draws_to_inference_data({"log_diag": np.zeros((3, 2))}, mvp_model, trials)


# -- bad arguments ---------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LaplaceApproximation("newton"), ValueError, "hessian"),
        (lambda: LaplaceApproximation(seed=-1), ValueError, "seed"),
        (lambda: SVIApproximation("flow"), ValueError, "guide"),
        (lambda: SVIApproximation(steps=0), ValueError, "steps"),
        (lambda: SVIApproximation("normal", rank=2), ValueError, "rank"),
        (lambda: SVIApproximation("lowrank", rank=0), ValueError, "rank"),
        (lambda: SVIApproximation(learning_rate=0.0), ValueError, "learning_rate"),
        (lambda: SVIApproximation(optimizer="adam"), TypeError, "optimizer"),
        (lambda: SVIApproximation(init_scale=-1.0), ValueError, "init_scale"),
        (lambda: LangevinSampler(steps=0), ValueError, "steps"),
        (lambda: LangevinSampler(step_size=0.0), ValueError, "step_size"),
        (lambda: LangevinSampler(temperature=-1.0), ValueError, "temperature"),
        (lambda: LangevinSampler(num_warmup=-1), ValueError, "num_warmup"),
        (lambda: LangevinSampler(steps=2.5), TypeError, "steps"),
        (lambda: NumpyroSampler(0), ValueError, "steps"),
    ],
)
def test_bad_settings_are_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_fit_inputs_are_rejected(mvp_model, seed_data, map_fit, laplace):
    with pytest.raises(ValueError, match="data is required"):  # a MAP without its trials
        LaplaceApproximation().from_map(pn.MAPPosterior(map_fit.params, mvp_model))
    # MAPOptimizer's fits carry their trials, so the data may be left out
    np.testing.assert_allclose(LaplaceApproximation().from_map(map_fit).result.cov,
                               laplace.result.cov, rtol=1e-5)
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
        laplace.sample(0, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="num_draws"):
        laplace.to_inference_data(0)
    with pytest.raises(ValueError, match="num_samples"):
        run_mala(jax.random.PRNGKey(0), mvp_model.numpyro_model, num_samples=0,
                 step_size=0.1)


# -- full WPPM -------------------------------------------------------------------
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
    # the Fisher precision, from reverse mode only, against jax.jacrev
    trials, noise = laplace.trials, laplace.model_kwargs["mc_samples"]

    def logits(W):
        return model.trial_logits({"W": W}, trials.ref, trials.probe, noise)

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
    assert np.all(np.isfinite(post.losses))
    assert post.sample(4, key=jax.random.PRNGKey(1))["W"].shape == (4, 3, 3, 2, 3)
    for fit in (laplace, post):
        idata = fit.to_inference_data(20, posterior_predictive=False)
        assert idata.posterior["W"].dims == ("chain", "draw", "basis_i", "basis_j",
                                             "dim", "embed")
        assert idata.log_likelihood["y"].shape == (1, 20, 100)
        assert np.all(np.isfinite(idata.log_likelihood["y"]))
