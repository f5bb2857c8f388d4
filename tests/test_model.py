"""The WPPM facade and the NumPyro model behind it."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.util import log_density

import psyphy_numpyro as pn


def psyphy_log_posterior(params, stimuli, y, *, slope, scale, oddity=True):
    """psyphy's MVP log posterior written out in numpy (float64)."""
    log_diag = np.asarray(params["log_diag"], float)
    cov = np.diag(np.exp(log_diag)) + 1e-6 * np.eye(len(log_diag))
    delta = stimuli[:, 1] - stimuli[:, 0]
    d = np.sqrt(np.einsum("ni,ij,nj->n", delta, np.linalg.inv(cov), delta))
    t = np.tanh(slope * d)
    p = 1 / 3 + (2 / 3) * 0.5 * (t + 1) if oddity else 0.5 + 0.5 * t
    ll = np.sum(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9))
    return ll - 0.5 * np.sum(log_diag**2) / scale**2


@pytest.mark.parametrize("oddity", [True, False], ids=["oddity", "2afc"])
def test_log_posterior_equals_psyphys_formula(oddity, seed_data):
    task = pn.OddityTask(slope=1.5) if oddity else pn.TwoAFC(slope=2.0)
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=task)
    for seed in range(3):
        params = model.init_params(jax.random.PRNGKey(seed))
        want = psyphy_log_posterior(params, seed_data.stimuli, seed_data.responses[:, 0],
                                    slope=task.slope, scale=0.5, oddity=oddity)
        got = model.log_posterior_from_data(params, seed_data)
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_prior_log_prob_drops_only_the_normalising_constant(mvp_model):
    prior = mvp_model.prior
    a, b = {"log_diag": jnp.array([0.3, -1.0])}, {"log_diag": jnp.array([-2.0, 0.5])}
    want = -0.5 * (0.3**2 + 1.0) / 0.25
    np.testing.assert_allclose(prior.log_prob(a), want, rtol=1e-6)
    # NumPyro's normalised density differs from it by log_normalizer exactly
    dens = float(prior.distribution().log_prob(b["log_diag"]))
    np.testing.assert_allclose(dens, float(prior.log_prob(b)) - prior.log_normalizer,
                               rtol=1e-6)
    np.testing.assert_allclose(prior.log_normalizer,
                               2 * (np.log(0.5) + 0.5 * np.log(2 * np.pi)), rtol=1e-12)


def test_model_log_joint_is_log_posterior_minus_constant(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    params = {"log_diag": jnp.array([-0.4, -3.0])}
    joint, _ = log_density(mvp_model.numpyro_model, (trials.ref, trials.probe,
                                                     trials.responses), {}, params)
    want = mvp_model.log_posterior_from_data(params, seed_data)
    np.testing.assert_allclose(joint, want - mvp_model.prior.log_normalizer, rtol=1e-6)


def test_init_params_draws_from_the_prior(mvp_model):
    keys = jax.random.split(jax.random.PRNGKey(0), 2000)
    draws = jax.vmap(mvp_model.init_params)(keys)["log_diag"]
    np.testing.assert_allclose(draws.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(draws.std(0), 0.5, rtol=0.06)


def test_predict_prob_and_discriminability_by_hand(mvp_model):
    params = {"log_diag": jnp.log(jnp.array([0.04, 0.01]))}
    ref, probe = jnp.zeros(2), jnp.array([0.2, 0.1])
    d = np.sqrt(0.2**2 / (0.04 + 1e-6) + 0.1**2 / (0.01 + 1e-6))
    np.testing.assert_allclose(mvp_model.discriminability(params, (ref, probe)), d,
                               rtol=1e-6)
    np.testing.assert_allclose(mvp_model.predict_prob(params, (ref, probe)),
                               2 / 3 + np.tanh(1.5 * d) / 3, rtol=1e-6)
    # the quirk of psyphy's MVP oddity rule: 2/3 at zero discriminability
    np.testing.assert_allclose(mvp_model.predict_prob(params, (ref, ref)), 2 / 3,
                               rtol=1e-6)


def test_local_covariance_is_diagonal_exp(mvp_model):
    cov = mvp_model.local_covariance({"log_diag": jnp.array([0.0, -1.0])}, jnp.zeros(2))
    np.testing.assert_allclose(cov, np.diag([1.0, np.exp(-1.0)]), rtol=1e-6)


def test_constructor_spellings_agree():
    prior, task, noise = pn.Prior.default(2), pn.TwoAFC(), pn.GaussianNoise(0.5)
    seed_kw = pn.WPPM(input_dim=2, prior=prior, task=task, noise=noise)
    seed_pos = pn.WPPM(2, prior, task, noise)
    v005 = pn.WPPM(prior, task, noise, input_dim=2)
    v005_kw = pn.WPPM(prior=prior, likelihood=task, noise=noise)
    for m in (seed_pos, v005, v005_kw):
        assert (m.input_dim, m.prior, m.task, m.noise) == (2, prior, task, noise)
    assert seed_kw.likelihood is task


def test_numpyro_model_works_with_predictive_and_any_autoguide(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    prior_draws = Predictive(mvp_model.numpyro_model, num_samples=50)(
        jax.random.PRNGKey(0), trials.ref, trials.probe)
    assert prior_draws["log_diag"].shape == (50, 2)
    assert prior_draws["y"].shape == (50, 400)

    guide = AutoNormal(mvp_model.numpyro_model)
    svi = SVI(mvp_model.numpyro_model, guide, numpyro.optim.Adam(0.05), Trace_ELBO())
    res = svi.run(jax.random.PRNGKey(1), 1500, trials.ref, trials.probe,
                  trials.responses, progress_bar=False)
    loc = guide.median(res.params)["log_diag"]
    map_fit = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, show_progress=False).fit(
        mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})
    # a Gaussian approximation's centre sits near the mode on this posterior
    np.testing.assert_allclose(loc, map_fit.params["log_diag"], atol=0.35)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"input_dim": 3, "prior": pn.Prior.default(2)}, ValueError, "input_dim"),
        ({"input_dim": 0}, ValueError, "input_dim"),
        ({"prior": "gaussian"}, TypeError, "prior"),
        ({"task": "oddity"}, TypeError, "task"),
        ({"diag_term": -1.0}, ValueError, "diag_term"),
        ({"task": pn.TwoAFC(), "likelihood": pn.OddityTask()}, TypeError, "task"),
    ],
)
def test_wppm_rejects_bad_configuration(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pn.WPPM(**kwargs)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: pn.Prior.default(2, scale=0.0), ValueError, "scale"),
        (lambda: pn.Prior.default(2, scale=-1.0), ValueError, "scale"),
        (lambda: pn.Prior.default(2, scale=float("nan")), ValueError, "scale"),
        (lambda: pn.GaussianNoise(sigma=0.0), ValueError, "sigma"),
        (lambda: pn.GaussianNoise(sigma="1"), TypeError, "sigma"),
        (lambda: pn.OddityTask(slope=0.0), ValueError, "slope"),
        (lambda: pn.TwoAFC(slope=-2.0), ValueError, "slope"),
    ],
)
def test_components_reject_non_positive_settings(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
