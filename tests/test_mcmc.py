"""NUTS on the MVP against the exact posterior computed by grid quadrature."""

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn


def grid_posterior(data, task, scale=0.5, n=401):
    """Posterior mean and sd of log_diag by quadrature on a 2-D grid (float64)."""
    stimuli, y = data.stimuli, data.responses[:, 0].astype(float)
    delta2 = (stimuli[:, 1] - stimuli[:, 0]) ** 2  # (N, 2)
    a = np.linspace(-5.0, 4.0, n)
    b = np.linspace(-8.0, 2.0, n)
    A, B = np.meshgrid(a, b, indexing="ij")
    var = np.exp(np.stack([A.ravel(), B.ravel()], 1)) + 1e-6  # (G, 2)
    logp = -0.5 * (A.ravel() ** 2 + B.ravel() ** 2) / scale**2
    for chunk in np.array_split(np.arange(var.shape[0]), 40):
        d = np.sqrt((delta2[None] / var[chunk, None]).sum(-1))  # (g, N)
        # 1 - tanh(z) = 2 / (1 + exp(2z)), so log(1 - p) stays finite
        log_miss = -np.logaddexp(0.0, 2.0 * task.slope * d)
        if isinstance(task, pn.OddityTask):  # 1 - p = (1 - tanh) / 3
            log_miss += np.log(2.0 / 3.0)
        log_hit = np.log1p(-np.exp(log_miss))
        logp[chunk] += (y * log_hit + (1 - y) * log_miss).sum(-1)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    grid = np.stack([A.ravel(), B.ravel()], 1)
    mean = w @ grid
    sd = np.sqrt(w @ (grid - mean) ** 2)
    # the grid must hold the whole posterior
    edge = np.zeros((n, n), bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    assert w.reshape(n, n)[edge].sum() < 1e-8
    return mean, sd


@pytest.mark.slow
@pytest.mark.parametrize("task", [pn.OddityTask(slope=1.5), pn.TwoAFC(slope=2.0)],
                         ids=["oddity", "2afc"])
def test_nuts_matches_quadrature(task, seed_truth):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=task)
    data = pn.simulate_trials(jax.random.PRNGKey(11), model, seed_truth, 400)
    mean, sd = grid_posterior(data, task)

    sampler = pn.NUTSSampler(num_warmup=500, num_samples=1000, num_chains=4, seed=1,
                             progress_bar=False)
    post = sampler.fit(model, data)
    draws = np.asarray(post.samples["log_diag"])
    assert draws.shape == (4000, 2)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.1 * sd)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.15)
    idata = post.to_inference_data(posterior_predictive=False)
    assert float(az.rhat(idata)["log_diag"].max()) <= 1.01
    assert post.num_divergences == 0


def test_nuts_starts_from_a_map_fit_and_samples_protocol(mvp_model, seed_data):
    fit = pn.MAPPosterior({"log_diag": jnp.array([-0.4, -3.0])}, mvp_model)
    post = pn.NUTSSampler(num_warmup=100, num_samples=100, num_chains=2,
                          progress_bar=False).fit(mvp_model, seed_data, init_params=fit)
    assert post.mcmc.num_chains == 2
    assert post.params["log_diag"].shape == (2,)
    draws = post.sample(7, key=jax.random.PRNGKey(0))
    assert draws["log_diag"].shape == (7, 2)
    # every returned draw is one of the stored posterior draws
    stored = np.asarray(post.samples["log_diag"])
    for row in np.asarray(draws["log_diag"]):
        assert np.any(np.all(stored == row, axis=1))
    assert "divergences=" in repr(post)


def test_run_nuts_records_the_sample_stats_fields(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    mcmc = pn.run_nuts(jax.random.PRNGKey(0), mvp_model.numpyro_model, trials.ref,
                       trials.probe, trials.responses, num_warmup=50, num_samples=50,
                       progress_bar=False)
    assert set(mcmc.get_extra_fields()) >= {"diverging", "accept_prob", "num_steps",
                                            "potential_energy", "energy"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_chains": 0}, "num_chains"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_warmup": -1}, "num_warmup"),
        ({"target_accept_prob": 1.0}, "target_accept_prob"),
        ({"num_chains": 2.0}, "num_chains"),
    ],
)
def test_nuts_sampler_rejects_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pn.NUTSSampler(**kwargs)


@pytest.mark.slow
def test_full_wppm_nuts_recovers_a_simulated_field_inside_its_bands():
    # Truth: a field drawn from the prior. NUTS (quadrature rule, rotation
    # fixed, 2 chains from the MAP) must hold the true covariance inside its
    # 90% bands at most points, with bands much narrower than the prior's.
    from psyphy_numpyro.core.design import (
        comparisons_along_directions,
        reference_points,
    )
    from psyphy_numpyro.core.gauge import principal_frame
    from psyphy_numpyro.core.tasks import OddityTaskConfig
    from psyphy_numpyro.core.trials import TrialData

    config = OddityTaskConfig(estimator="quadrature", quadrature=(4, 2, 4))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1, extra_embedding_dims=1),
                    pn.OddityTask(config=config), pn.GaussianNoise())
    k_truth, k_design, k_y, k_prior = jax.random.split(jax.random.PRNGKey(5), 4)
    truth = model.init_params(k_truth)
    refs = reference_points(9, 2, method="grid")
    ref, probe = comparisons_along_directions(k_design, refs, 60, min_distance=0.01,
                                              max_distance=0.3)
    y = pn.simulate_responses(k_y, model, truth, ref, probe)
    data = TrialData(np.stack([ref, probe], axis=1), y)
    map_fit = pn.MAPOptimizer(steps=300, learning_rate=3e-3, max_grad_norm=1.0,
                              show_progress=False).fit(model, data, seed=1)
    post = pn.NUTSSampler(num_warmup=100, num_samples=100, num_chains=2, seed=2,
                          progress_bar=False, fix_rotations=True).fit(
        model, data, init_params=map_fit)
    assert post.num_divergences == 0

    points = reference_points(16, 2, method="grid")
    band = pn.covariance_band(post, points)
    true_cov = np.asarray(pn.covariance_field(model, truth, points))
    inside = (band.cov.lower <= true_cov) & (true_cov <= band.cov.upper)
    assert inside.mean() >= 0.8, inside.mean()
    prior_draws = {"W": jnp.stack([model.init_params(k)["W"]
                                   for k in jax.random.split(k_prior, 200)])}
    prior_band = pn.covariance_band(prior_draws, points, model=model)
    width = np.median(band.cov.upper - band.cov.lower)
    assert width < 0.5 * np.median(prior_band.cov.upper - prior_band.cov.lower)
    # the gauge-fixed W is identified: one orientation for both chains
    W = np.asarray(post.mcmc.get_samples(group_by_chain=True)["W"])
    scale = np.asarray(model.prior.stddev())
    A = principal_frame(map_fit.params["W"], scale)
    rows = (A @ (W / scale).reshape(*W.shape[:2], -1, 3))[:, :, :3]
    np.testing.assert_allclose(np.triu(rows, 1), 0.0, atol=1e-5)
    assert np.all(np.diagonal(rows, 0, 2, 3) > 0)


def test_rotated_starts_keep_the_density_and_separate_the_chains():
    from psyphy_numpyro.core.gauge import align_embedding
    from psyphy_numpyro.core.infer.mcmc import rotated_starts

    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, extra_embedding_dims=1))
    W = model.init_params(jax.random.PRNGKey(0))["W"]
    starts = rotated_starts(W, jax.random.PRNGKey(1), 4)
    assert starts.shape == (4, *W.shape)
    np.testing.assert_array_equal(starts[0], W)
    x = np.array([[0.3, -0.2], [-0.7, 0.5]])
    field = pn.covariance_field(model, {"W": W}, x)
    for s in starts:
        np.testing.assert_allclose(pn.covariance_field(model, {"W": s}, x), field,
                                   rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(model.prior.log_prob({"W": s}),
                                   model.prior.log_prob({"W": W}), rtol=1e-5)
        np.testing.assert_allclose(align_embedding(s, W), W, atol=1e-5)
    spread = np.linalg.norm(np.asarray(starts[1:] - W).reshape(3, -1), axis=1)
    assert np.all(spread > 0.3 * np.linalg.norm(W))  # really elsewhere on the orbit
    with pytest.raises(ValueError, match="leading axis of num_chains"):
        pn.run_nuts(jax.random.PRNGKey(0), model.numpyro_model, num_warmup=1,
                    num_samples=1, num_chains=2, chain_init_params={"W": W})
