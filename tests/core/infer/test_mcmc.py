"""run_nuts: its sample statistics, rotated starts for the chains, kept samplers;
run_nuts_until against one uninterrupted run and ArviZ."""

import sys
import warnings

import arviz as az
import jax
import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.mark.slow  # core/test_idata.py checks the sample_stats of a NUTS run
def test_run_nuts_records_the_sample_stats_fields(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    mcmc = pn.run_nuts(jax.random.PRNGKey(0), mvp_model.numpyro_model, trials.ref,
                       trials.probe, trials.responses, num_warmup=50, num_samples=50,
                       progress_bar=False)
    assert set(mcmc.get_extra_fields()) >= {"diverging", "accept_prob", "num_steps",
                                            "potential_energy", "energy"}


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


@pytest.mark.slow  # three NUTS compilations (~15 s)
def test_a_kept_sampler_reruns_without_compiling_and_keeps_each_fit_its_own(
        mvp_model, seed_truth, no_compilation):
    from psyphy_numpyro.core.infer import mcmc as runner

    def data(seed, size):
        return pn.simulate_trials(jax.random.PRNGKey(seed), mvp_model, seed_truth, size)

    pn.clear_caches()
    one = pn.NUTSSampler(num_warmup=100, num_samples=30, num_chains=1, progress_bar=False)
    first = one.fit(mvp_model, data(1, 100))
    with no_compilation():  # new data of the same size: the compiled sampler runs it
        later = one.fit(mvp_model, data(2, 100))
    assert later.mcmc.sampler is first.mcmc.sampler and len(runner._KEPT) == 1
    # each posterior keeps its own run, whatever the kept sampler ran since
    np.testing.assert_array_equal(first.mcmc.get_samples(group_by_chain=True)["log_diag"],
                                  first.draws["log_diag"])
    assert not np.array_equal(first.draws["log_diag"], later.draws["log_diag"])

    two = pn.NUTSSampler(num_warmup=100, num_samples=30, num_chains=2, progress_bar=False)
    small = two.fit(mvp_model, data(1, 100))
    large = two.fit(mvp_model, data(3, 150))  # a new size through vectorised chains
    with no_compilation():  # NumPyro's start search, too, runs without compiling
        again = two.fit(mvp_model, data(1, 100))
    assert large.draws["log_diag"].shape == (2, 30, 2)
    assert np.all(np.isfinite(large.draws["log_diag"]))
    # the same fit again gives the same bits: no state carried from run to run
    np.testing.assert_array_equal(again.draws["log_diag"], small.draws["log_diag"])
    pn.clear_caches()
    assert not runner._KEPT


def test_a_run_without_bar_writes_nothing_and_keeps_its_warnings(capsys):
    from psyphy_numpyro.core.infer.mcmc import _without_bar

    def run():
        with _without_bar():
            print("NumPyro's bar", file=sys.stderr)
            warnings.warn("raised inside", UserWarning, stacklevel=1)

    with pytest.warns(UserWarning, match="raised inside"):
        run()
    assert capsys.readouterr().err == ""


def test_a_run_to_a_bar_continues_one_run_and_stops_at_the_first_check_that_meets_it(
        mvp_model, seed_data, no_compilation):
    from psyphy_numpyro.core.infer.mcmc import SAMPLE_STATS_FIELDS, run_nuts_until

    trials = mvp_model.trials(seed_data)
    args = (mvp_model.numpyro_model, trials.ref, trials.probe, trials.responses)
    run = dict(num_warmup=100, num_chains=3, progress_bar=False)
    # with a bar no run reaches, it is one run of max_samples, in blocks
    whole = pn.run_nuts(jax.random.PRNGKey(0), *args, num_samples=60, **run)
    blocks = run_nuts_until(jax.random.PRNGKey(0), *args, min_ess=1e9, check_every=20,
                            max_samples=60, **run)
    assert not blocks.met
    with no_compilation():  # every block, first or continued, runs the kept sampler
        again = run_nuts_until(jax.random.PRNGKey(0), *args, min_ess=1e9,
                               check_every=20, max_samples=60, **run)
    np.testing.assert_array_equal(again.draws["log_diag"], blocks.draws["log_diag"])
    np.testing.assert_array_equal(blocks.draws["log_diag"],
                                  whole.get_samples(group_by_chain=True)["log_diag"])
    fields = whole.get_extra_fields(group_by_chain=True)
    assert set(blocks.extra_fields) == set(SAMPLE_STATS_FIELDS)
    for name in SAMPLE_STATS_FIELDS:
        np.testing.assert_array_equal(blocks.extra_fields[name], fields[name])

    stopped = run_nuts_until(jax.random.PRNGKey(1), *args, min_ess=300, check_every=25,
                             max_samples=1000, **run)
    draws = np.asarray(stopped.draws["log_diag"])
    kept = draws.shape[1]
    assert stopped.met and kept % 25 == 0 and kept < 1000

    def figures(n):  # ArviZ on the first n draws per chain
        data = az.convert_to_dataset({"x": draws[:, :n]})
        return (float(az.ess(data, method="bulk")["x"].min()),
                float(az.rhat(data)["x"].max()))

    assert stopped.convergence == pytest.approx(figures(kept))
    assert figures(kept)[0] >= 300 and figures(kept)[1] <= 1.01
    for n in range(25, kept, 25):  # every earlier check fell short
        ess, rhat = figures(n)
        assert ess < 300 or rhat > 1.01


def test_a_run_to_a_bar_applies_it_to_what_watch_returns(mvp_model, seed_data):
    from psyphy_numpyro.core.infer.mcmc import run_nuts_until

    trials = mvp_model.trials(seed_data)
    args = (mvp_model.numpyro_model, trials.ref, trials.probe, trials.responses)
    seen = []

    def first_dimension(draws):  # the bar watches log_diag[0] only
        seen.append(draws["log_diag"].shape)
        return {"x": draws["log_diag"][..., 0]}

    stopped = run_nuts_until(jax.random.PRNGKey(2), *args, min_ess=150, check_every=25,
                             max_samples=500, num_warmup=100, num_chains=2,
                             progress_bar=False, watch=first_dimension)
    kept = stopped.draws["log_diag"].shape[1]
    assert stopped.met and seen == [(2, n, 2) for n in range(25, kept + 1, 25)]
    x = np.asarray(stopped.draws["log_diag"][..., 0], dtype=np.float64)

    def figures(n):  # ArviZ on the first n draws per chain of log_diag[0]
        data = az.convert_to_dataset({"x": x[:, :n]})
        return (float(az.ess(data, method="bulk")["x"].min()),
                float(az.rhat(data)["x"].max()))

    assert stopped.convergence == pytest.approx(figures(kept))
    for n in range(25, kept, 25):  # every earlier check fell short on log_diag[0]
        ess, rhat = figures(n)
        assert ess < 150 or rhat > 1.01


@pytest.mark.parametrize("kwargs, match", [
    ({"min_ess": 0}, "min_ess"),
    ({"max_rhat": 1.0}, "max_rhat"),
    ({"check_every": 3}, "check_every"),
    ({"max_samples": 50}, "multiple of check_every"),
    ({"num_chains": 1}, "num_chains >= 2"),
    ({"num_warmup": -1}, "num_warmup"),
    ({"watch": "field"}, "watch must be a function"),
])
def test_a_run_to_a_bar_refuses_bad_settings_before_compiling(kwargs, match, mvp_model,
                                                              no_compilation):
    from psyphy_numpyro.core.infer.mcmc import run_nuts_until

    settings = dict(min_ess=100, check_every=20, num_warmup=10, max_samples=100,
                    progress_bar=False) | kwargs
    key = jax.random.PRNGKey(0)
    with no_compilation(), pytest.raises((ValueError, TypeError), match=match):
        run_nuts_until(key, mvp_model.numpyro_model, **settings)
