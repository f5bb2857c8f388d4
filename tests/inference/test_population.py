"""fit_population: a hierarchical WPPM of several observers, per observer and pooled."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_likelihood

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import import_arviz
from psyphy_numpyro.core.population import PopulationSpec, observer_params

SIZES = (400, 200, 100, 30, 10)


@pytest.fixture(scope="module")
def population(mvp_model):
    """Five observers around a population field (tau = 0.4), trials at all distances."""
    pop = PopulationSpec(mvp_model.spec, len(SIZES))
    truth = {"log_diag_pop": jnp.array([-1.0, -2.0]), "log_pop_scale": jnp.log(0.4),
             "log_diag_dev": jax.random.normal(jax.random.PRNGKey(1), (len(SIZES), 2))}
    theta = observer_params(pop, truth)["log_diag"]
    datasets = {}
    for s, n in enumerate(SIZES):
        rng = np.random.default_rng(s)
        angle, r = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.1, 1.5, n)
        ref = np.zeros((n, 2))
        probe = np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
        y = pn.simulate_responses(jax.random.PRNGKey(s), mvp_model, {"log_diag": theta[s]},
                                  ref, probe)
        datasets[f"obs{s}"] = pn.TrialData(np.stack([ref, probe], 1), y)
    return datasets, truth, np.asarray(theta)


@pytest.mark.slow  # MAP, Hessian and ArviZ of the population (~10 s)
def test_laplace_gives_each_observer_a_posterior_every_readout_takes(mvp_model, population):
    datasets, _, _ = population
    post = pn.fit_population(mvp_model, datasets, method="laplace", steps=500,
                             num_draws=400, progress_bar=False)
    assert post.names == list(datasets) and post.draws["log_diag_dev"].shape == (1, 400, 5, 2)
    one = post.observer("obs3")
    assert one.samples["log_diag"].shape == (400, 2)
    assert one.trials.ref.shape[0] == SIZES[3]
    band = pn.covariance_band(one, np.zeros((1, 2)))
    assert np.all(band.cov.lower[0].diagonal() < band.cov.upper[0].diagonal())
    assert post.population().samples["log_diag"].shape == (400, 2)

    idata = post.to_inference_data()
    assert list(idata.posterior["log_diag"].coords["observer"].values) == list(datasets)
    assert idata.log_likelihood["y"].shape == (1, 400, sum(SIZES))
    # each trial's log-likelihood is its own observer's, by the one-observer model
    draw = {k: np.asarray(v)[0, :3] for k, v in post.draws.items()}
    theta = observer_params(post.pop, draw)["log_diag"]
    start = 0
    for s, name in enumerate(datasets):
        trials = post.trials[name]
        want = log_likelihood(mvp_model.numpyro_model, {"log_diag": theta[:, s]}, *trials)["y"]
        got = idata.log_likelihood["y"].values[0, :3, start:start + SIZES[s]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        start += SIZES[s]


@pytest.mark.slow  # NUTS on the population model (~1 min)
def test_nuts_recovers_a_simulated_population_inside_its_bands(mvp_model, population):
    datasets, truth, theta = population
    post = pn.fit_population(mvp_model, datasets, method="nuts", num_warmup=200,
                             num_samples=300, progress_bar=False)
    covered = 0
    for s, name in enumerate(datasets):
        draws = np.asarray(post.observer(name).samples["log_diag"])
        lo, hi = np.percentile(draws, [5, 95], axis=0)
        covered += int(np.sum((lo < theta[s]) & (theta[s] < hi)))
    # 10 entries at 90%: a calibrated posterior covers at least 8 with probability 0.93
    assert covered >= 8
    pop_draws = np.asarray(post.population().samples["log_diag"])
    lo, hi = np.percentile(pop_draws, [5, 95], axis=0)
    assert np.all((lo < truth["log_diag_pop"]) & (truth["log_diag_pop"] < hi))

    # LOO sets pooling against separate fits, trial by trial in the same order
    az = import_arviz()
    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, show_progress=False)
    separate = {name: pn.LaplaceApproximation().from_map(opt.fit(mvp_model, data), data)
                for name, data in datasets.items()}
    pooled, independent = post.to_inference_data(), pn.observers_inference_data(separate)
    np.testing.assert_array_equal(pooled.observed_data["y"], independent.observed_data["y"])
    with warnings.catch_warnings():  # Pareto-k warnings; pandas' deprecations in ArviZ
        warnings.simplefilter("ignore")
        ranked = az.compare({"pooled": pooled, "independent": independent})
    assert set(ranked.index) == {"pooled", "independent"}
    assert np.all(np.isfinite(ranked["elpd_loo" if "elpd_loo" in ranked else "elpd"]))


def test_bad_populations_are_refused_before_compiling(mvp_model, population, no_compilation):
    datasets, _, _ = population
    first = datasets["obs0"]
    with no_compilation():
        with pytest.raises(ValueError, match="repeated: \\['a'\\]"):
            pn.fit_population(mvp_model, [("a", first), ("a", first)])
        with pytest.raises(ValueError, match="observer 'b'.*empty"):
            pn.fit_population(mvp_model, {"a": first,
                                          "b": pn.TrialData(np.zeros((0, 2, 2)), np.zeros(0))})
        with pytest.raises(ValueError, match="observer 'c'"):
            pn.fit_population(mvp_model, {"a": first,
                                          "c": pn.TrialData(np.zeros((3, 2, 3)), np.ones(3))})
        with pytest.raises(ValueError, match="method must be one of"):
            pn.fit_population(mvp_model, datasets, method="vi")
        with pytest.raises(TypeError, match="names must be non-empty strings"):
            pn.fit_population(mvp_model, {1: first})
        with pytest.raises(ValueError, match="datasets is empty"):
            pn.fit_population(mvp_model, {})
        with pytest.raises(ValueError, match="target_accept_prob"):
            pn.fit_population(mvp_model, datasets, method="nuts", target_accept_prob=1.0)
        with pytest.raises(ValueError, match="num_samples"):
            pn.fit_population(mvp_model, datasets, method="nuts", num_samples=0)
