"""NUTSSampler: the MVP against its exact posterior (grid quadrature), the full WPPM."""

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.mcmc import clear_samplers
from psyphy_numpyro.core.infer.progress import NUTS_GRADIENTS
from psyphy_numpyro.inference.nuts import announce_run


@pytest.mark.slow
@pytest.mark.parametrize("task", [pn.OddityTask(slope=1.5), pn.TwoAFC(slope=2.0)],
                         ids=["oddity", "2afc"])
def test_nuts_matches_quadrature(task, seed_truth, mvp_grid_posterior):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=task)
    data = pn.simulate_trials(jax.random.PRNGKey(11), model, seed_truth, 400)
    grid, w = mvp_grid_posterior(data.stimuli[:, 0], data.stimuli[:, 1],
                                 data.responses[:, 0], slope=task.slope,
                                 oddity=isinstance(task, pn.OddityTask))
    mean = w @ grid
    sd = np.sqrt(w @ (grid - mean) ** 2)

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


@pytest.mark.slow
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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_chains": 0}, "num_chains"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_warmup": -1}, "num_warmup"),
        ({"target_accept_prob": 1.0}, "target_accept_prob"),
        ({"num_chains": 2.0}, "num_chains"),
        ({"min_ess": -1}, "min_ess"),
        ({"min_ess": 400, "max_rhat": 0.99}, "max_rhat"),
        ({"min_ess": 400, "check_every": 1.5}, "check_every"),
        ({"min_ess": 400, "num_samples": 1000, "check_every": 300},
         r"num_samples \(1000\) must be a multiple of check_every"),
        ({"min_ess": 400, "num_chains": 1}, "num_chains >= 2"),
        ({"precondition": "dense"}, "precondition must be one of"),
        ({"precondition": ["laplace"]}, "precondition must be one of"),
        ({"min_ess": 400, "watch": "W"}, "watch must be one of"),
        ({"watch": "field"}, "set min_ess too"),
    ],
)
def test_nuts_sampler_rejects_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pn.NUTSSampler(**kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("precondition", [None, "laplace"])
def test_full_wppm_nuts_recovers_a_simulated_field_inside_its_bands(precondition):
    # Truth: a field drawn from the prior. NUTS (quadrature rule, rotation
    # fixed, 2 chains from the MAP), in its own coordinates or the Laplace
    # eigenbasis, must hold the true covariance inside its 90% bands at most
    # points, with bands much narrower than the prior's.
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
    # target_accept_prob 0.95: at 0.8, float32 rounding alone (the rule's
    # summation order) decided between 0 and 3 divergences in this short run
    post = pn.NUTSSampler(num_warmup=50, num_samples=60, num_chains=2, seed=2,
                          target_accept_prob=0.95, progress_bar=False,
                          fix_rotations=True, precondition=precondition,
                          ).fit(model, data, init_params=map_fit)
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


def full_data(model, n=60):
    rng = np.random.default_rng(0)
    ref = rng.uniform(-0.8, 0.8, (n, 2))
    probe = np.clip(ref + rng.normal(0.0, 0.1, (n, 2)), -1, 1)
    y = pn.simulate_responses(jax.random.PRNGKey(2), model,
                              model.init_params(jax.random.PRNGKey(1)), ref, probe)
    return pn.TrialData(np.stack([ref, probe], 1), y)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:NUTS had")  # mechanics, not sampling quality
def test_nuts_on_the_full_model_with_fixed_draws():
    # "mc" chosen explicitly: kept (fixed draws), with a warning before
    # sampling that gives the estimated run time and the faster rule
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1),
                    pn.OddityTask(config=pn.OddityTaskConfig(num_samples=50,
                                                             estimator="mc")))
    truth = model.init_params(jax.random.PRNGKey(1))
    data = full_data(model)
    with pytest.warns(UserWarning, match=r"(?s)Monte Carlo p\(correct\).*about .* "
                      r"gradients per iteration.*estimator=\"quadrature\" applies"):
        post = pn.NUTSSampler(num_warmup=40, num_samples=30, num_chains=2,
                              progress_bar=False).fit(model, data, init_params=truth)
    assert post.model is model and set(post.model_kwargs) == {"mc_samples"}
    assert post.samples["W"].shape == (60, 2, 2, 2, 3)
    # the point estimate is one of the draws (the mean of W would collapse the field)
    assert np.any(np.all(np.asarray(post.samples["W"]) == np.asarray(post.params["W"]),
                         axis=(1, 2, 3, 4)))
    idata = post.to_inference_data()
    assert idata.posterior["W"].dims == ("chain", "draw", "basis_i", "basis_j", "dim",
                                         "embed")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "trial")
    # the log likelihood group uses the run's fixed draws
    draw = {"W": np.asarray(idata.posterior["W"][0, 5])}
    want = model.log_likelihood(draw, post.trials, post.model_kwargs["mc_samples"])
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 5], want, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:NUTS had")  # mechanics, not sampling quality
def test_full_wppm_nuts_defaults_to_quadrature_with_the_rotation_fixed(capsys,
                                                                       monkeypatch):
    # The README's sampler on a full model with the default task: the
    # deterministic rule and the gauge-fixed sampler, said before sampling.
    monkeypatch.delenv("CI", raising=False)  # NumPyro hides its bar on CI and under
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # xdist; so do we our line
    clear_samplers()  # a sampler kept from an earlier test compiles nothing to say
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1))
    data = full_data(model)
    post = pn.NUTSSampler(num_warmup=30, num_samples=20, num_chains=2).fit(model, data)
    said = capsys.readouterr().err
    assert ("NUTSSampler: 2 chain(s) x 50 iterations on 60 trials, p(correct) by "
            "'quadrature' (chosen for a deterministic density" in said)
    assert "gradients per iteration" in said and said.index("about") < said.index(
        "compiling the sampler")
    assert model.task.config.estimator is None  # the given model is untouched
    assert post.model.task.config == pn.OddityTaskConfig(estimator="quadrature")
    assert post.model_kwargs == {}
    assert "W_free" in post.mcmc.get_samples()  # sampled with the rotation fixed
    assert post.samples["W"].shape == (40, 2, 2, 2, 3)
    # the quadrature likelihood of a draw, as ArviZ records it
    idata = post.to_inference_data(posterior_predictive=False)
    draw = {"W": np.asarray(idata.posterior["W"][1, 3])}
    np.testing.assert_allclose(idata.log_likelihood["y"][1, 3],
                               post.model.log_likelihood(draw, post.trials),
                               rtol=1e-4, atol=1e-5)


def test_the_rotation_is_fixed_by_default_for_the_full_wppm_only(mvp_model, seed_data,
                                                                  no_compilation):
    assert pn.NUTSSampler().fix_rotations is None  # chosen by model at fit time
    with no_compilation(), pytest.raises(ValueError, match="MVP has no rotation"):
        pn.NUTSSampler(fix_rotations=True, progress_bar=False).fit(mvp_model, seed_data)


@pytest.mark.slow
def test_nuts_to_an_ess_bar_stops_early_with_the_exact_posterior(
        mvp_model, seed_data, seed_posterior_moments):
    mean, sd = seed_posterior_moments
    sampler = pn.NUTSSampler(num_warmup=300, num_samples=2000, num_chains=4, seed=3,
                             progress_bar=False, min_ess=400, check_every=50)
    post = sampler.fit(mvp_model, seed_data)  # warnings are errors: the bar was met
    assert post.mcmc is None and post.num_draws < 2000 and post.num_draws % 50 == 0
    idata = post.to_inference_data(posterior_predictive=False)
    assert float(az.ess(idata, method="bulk")["log_diag"].min()) >= 400
    assert float(az.rhat(idata)["log_diag"].max()) <= 1.01
    draws = np.asarray(post.samples["log_diag"])
    # ESS >= 400: the mean's Monte Carlo error is under sd / 20
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.15)


@pytest.mark.filterwarnings("ignore:NUTS had")  # a short warm-up: mechanics only
def test_nuts_short_of_its_ess_bar_warns_with_the_figures(mvp_model, seed_data):
    sampler = pn.NUTSSampler(num_warmup=20, num_samples=40, num_chains=2,
                             progress_bar=False, min_ess=1e6, check_every=20)
    with pytest.warns(RuntimeWarning, match=r"num_samples=40 draws per chain without "
                      r"reaching min_ess=1e\+06 and max_rhat=1.01 on the parameters "
                      r"\(least bulk ESS"):
        post = sampler.fit(mvp_model, seed_data)
    assert post.draws["log_diag"].shape == (2, 40, 2)
    assert post.extra_fields["num_steps"].shape == (2, 40)


def test_nuts_in_the_laplace_basis_matches_the_exact_posterior(
        mvp_model, seed_data, seed_map_fit, seed_posterior_moments, capsys):
    mean, sd = seed_posterior_moments
    sampler = pn.NUTSSampler(num_warmup=200, num_samples=1000, num_chains=2, seed=4,
                             precondition="laplace")
    post = sampler.fit(mvp_model, seed_data, init_params=seed_map_fit)
    assert "Laplace basis at the mode" in capsys.readouterr().err
    assert set(post.draws) == {"log_diag", "log_diag_base"}
    draws = np.asarray(post.samples["log_diag"])
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.15)
    idata = post.to_inference_data(posterior_predictive=False)
    assert set(idata.posterior.data_vars) == {"log_diag"}
    assert float(az.rhat(idata)["log_diag"].max()) <= 1.01


def test_the_laplace_basis_needs_a_start_and_the_rotation_fixed(mvp_model, seed_data,
                                                               no_compilation):
    sampler = pn.NUTSSampler(precondition="laplace", progress_bar=False)
    with no_compilation(), pytest.raises(ValueError, match="needs init_params"):
        sampler.fit(mvp_model, seed_data)
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1))
    data, start = full_data(model), {"W": jnp.zeros(model.prior.shape)}
    free = pn.NUTSSampler(precondition="laplace", fix_rotations=False, progress_bar=False)
    with no_compilation(), pytest.raises(ValueError, match="rotation fixed"):
        free.fit(model, data, init_params=start)


def test_an_ess_bar_needs_the_full_wppm_rotation_fixed(no_compilation):
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1))
    sampler = pn.NUTSSampler(fix_rotations=False, min_ess=400, progress_bar=False)
    data = full_data(model)
    with no_compilation(), pytest.raises(ValueError, match="fix_rotations=True"):
        sampler.fit(model, data)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:NUTS had")  # a short warm-up: the bar's mechanics
def test_an_ess_bar_on_the_field_needs_no_fixed_rotation():
    # Sigma(x) is rotation-invariant, so the bar on the field is met with the
    # rotation free, where W's entries are not identified
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1))
    sampler = pn.NUTSSampler(num_warmup=100, num_samples=1000, num_chains=2, seed=1,
                             progress_bar=False, fix_rotations=False, min_ess=100,
                             max_rhat=1.05, check_every=25, watch="field")
    post = sampler.fit(model, full_data(model),  # warnings are errors: the bar was met
                       init_params=model.init_params(jax.random.PRNGKey(1)))
    assert post.num_draws < 1000 and post.num_draws % 25 == 0
    W = np.asarray(post.draws["W"])
    grid = pn.reference_grid(5)

    def least_and_largest(n):  # ArviZ on Sigma(x) of the first n draws per chain
        sigma = pn.covariance_field(model, {"W": W[:, :n].reshape(-1, *W.shape[2:])},
                                    grid).reshape(2, n, -1).astype(np.float64)
        data = az.convert_to_dataset({"sigma": sigma})
        return (float(az.ess(data, method="bulk")["sigma"].min()),
                float(az.rhat(data)["sigma"].max()))

    ess, rhat = least_and_largest(post.num_draws)
    assert ess >= 100 and rhat <= 1.05
    ess, rhat = least_and_largest(post.num_draws - 25)  # the check before fell short
    assert ess < 100 or rhat > 1.05


def test_a_run_to_an_ess_bar_announces_the_most_iterations_it_may_take(capsys,
                                                                       monkeypatch):
    # with min_ess the run may stop sooner: the line before sampling says the
    # iterations (and so its estimate) are the most it takes
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    config = pn.OddityTaskConfig(estimator="quadrature", quadrature=(4, 2, 4))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), pn.OddityTask(config=config))
    trials = model.trials(full_data(model))
    estimate = announce_run("NUTSSampler", model, False, model.numpyro_model,
                            tuple(trials), {}, num_chains=2, iterations=300,
                            gradients=NUTS_GRADIENTS, progress=True,
                            rng_key=jax.random.PRNGKey(0), stops_early=True)
    said = capsys.readouterr().err
    assert "NUTSSampler: 2 chain(s) x up to 300 iterations on 60 trials" in said
    assert estimate.iterations == 300 and estimate.describe() in said
