"""Lapses: the formula, the tasks' setting, the NumPyro site, simulation, ArviZ, files.

Truths: the mixture computed by hand from the lapse-free model; simulated
observers with a known lapse rate; NumPyro's Bernoulli log density.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from numpyro.infer import Predictive

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import draws_to_inference_data, group_names
from psyphy_numpyro.core.lapse import LAPSE_SITE, apply_lapse, lapse_logits
from psyphy_numpyro.core.simulate import simulate_trials

TRUTH = {"log_diag": jnp.array([-1.0, -0.5])}


def _mvp(task):
    return pn.WPPM(pn.Prior.default(2), task)


def test_formula_matches_plain_mixture():
    logits = jnp.array([-40.0, -3.0, 0.0, 0.7, 5.0, 40.0])
    for lapse, chance in ((0.0, 1 / 3), (0.05, 1 / 3), (0.3, 0.5)):
        p = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
        want = lapse * chance + (1.0 - lapse) * p
        np.testing.assert_allclose(apply_lapse(p, lapse, chance), want, rtol=1e-12)
        got = jax.nn.sigmoid(lapse_logits(logits, lapse, chance))
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)
    # saturated model p: the answers' log-odds stay finite, capped by the lapse
    capped = lapse_logits(jnp.array([1e4]), 0.1, 1 / 3)
    assert np.isfinite(capped).all()
    np.testing.assert_allclose(jax.nn.sigmoid(capped), 0.1 / 3 + 0.9, rtol=1e-6)


@pytest.mark.parametrize("task, chance", [(pn.OddityTask, 1 / 3), (pn.TwoAFC, 0.5)])
def test_fixed_lapse_mixes_the_lapse_free_model(task, chance):
    ref = jnp.zeros((4, 2))
    probe = jnp.array([[0.0, 0.0], [0.2, 0.0], [0.5, 0.5], [3.0, -2.0]])
    plain = jax.nn.sigmoid(_mvp(task()).trial_logits(TRUTH, ref, probe))
    lapsing = jax.nn.sigmoid(_mvp(task(lapse=0.2)).trial_logits(TRUTH, ref, probe))
    np.testing.assert_allclose(lapsing, 0.2 * chance + 0.8 * plain, rtol=1e-5)
    zero = jax.nn.sigmoid(_mvp(task(lapse=0.0)).trial_logits(TRUTH, ref, probe))
    np.testing.assert_allclose(zero, plain, rtol=1e-6)
    # an inferred rate reads the params; predict_prob is the answers' p too
    inferred = _mvp(task(lapse=pn.LapsePrior(1.0, 9.0)))
    params = {**TRUTH, LAPSE_SITE: jnp.float32(0.2)}
    np.testing.assert_allclose(jax.nn.sigmoid(inferred.trial_logits(params, ref, probe)),
                               lapsing, rtol=1e-6)
    one = inferred.predict_prob(params, (ref[2], probe[2]))
    np.testing.assert_allclose(one, lapsing[2], rtol=1e-6)


def test_bad_lapse_settings_raise_before_compiling():
    for bad, err, match in ((1.0, ValueError, "lapse must lie in"),
                            (-0.1, ValueError, "lapse must lie in"),
                            ("0.1", TypeError, "lapse must be None"),
                            (True, TypeError, "lapse must be None")):
        with pytest.raises(err, match=match):
            pn.OddityTask(lapse=bad)
        with pytest.raises(err, match=match):
            pn.TwoAFC(lapse=bad)
    with pytest.raises(ValueError, match="a must be a finite number > 0"):
        pn.LapsePrior(0.0, 1.0)
    with pytest.raises(TypeError, match="b must be"):
        pn.LapsePrior(1.0, "2")
    model = _mvp(pn.OddityTask(lapse=pn.LapsePrior(1.0, 19.0)))
    with pytest.raises(ValueError, match=r"keys \['log_diag', 'lapse_rate'\]"):
        model.check_params(TRUTH)
    with pytest.raises(ValueError, match=r"params\['lapse_rate'\] must lie in \(0, 1\)"):
        model.check_params({**TRUTH, LAPSE_SITE: 1.5})
    with pytest.raises(ValueError, match=r"params\['lapse_rate'\] must be a scalar"):
        model.check_params({**TRUTH, LAPSE_SITE: np.array([0.1, 0.2])})


def test_inferred_lapse_is_a_beta_site_and_starts_at_its_mean():
    model = _mvp(pn.OddityTask(lapse=pn.LapsePrior(2.0, 18.0)))
    assert model.param_sites == ("log_diag", LAPSE_SITE)
    ref = jnp.zeros((3, 2))
    draws = Predictive(model.numpyro_model, num_samples=1000)(
        jax.random.PRNGKey(1), ref, ref + 0.1)
    assert draws[LAPSE_SITE].shape == (1000,)
    # the prior draws are Beta(2, 18): a Kolmogorov-Smirnov test at a loose level
    assert scipy.stats.kstest(np.asarray(draws[LAPSE_SITE]), "beta", (2.0, 18.0)).pvalue > 1e-3
    assert float(model.init_params(jax.random.PRNGKey(0))[LAPSE_SITE]) == pytest.approx(0.1)


def test_simulated_observer_lapses_at_its_rate():
    # far comparisons: the model's p is 1, so every miss is a lapse's guess
    n, lapse = 4000, 0.3
    model = _mvp(pn.OddityTask(lapse=lapse))
    ref = np.zeros((n, 2))
    y = pn.simulate_responses(jax.random.PRNGKey(3), model, TRUTH, ref, ref + 20.0)
    want = lapse / 3 + (1 - lapse)
    assert abs(y.mean() - want) < 4 * np.sqrt(want * (1 - want) / n)


def test_arviz_and_files_carry_the_lapse_rate(tmp_path):
    model = _mvp(pn.OddityTask(lapse=pn.LapsePrior(1.0, 19.0)))
    data = simulate_trials(jax.random.PRNGKey(1), model, {**TRUTH, LAPSE_SITE: 0.05}, 30)
    trials = model.trials(data)
    rng = np.random.default_rng(0)
    draws = {"log_diag": rng.normal(-0.8, 0.1, (2, 5, 2)).astype(np.float32),
             LAPSE_SITE: rng.uniform(0.01, 0.2, (2, 5)).astype(np.float32)}
    idata = draws_to_inference_data(draws, model, trials, posterior_predictive=False)
    post = idata["posterior"]
    assert post[LAPSE_SITE].dims == ("chain", "draw")
    assert "unconstrained_posterior" not in group_names(idata)
    # log-likelihood: Bernoulli of the lapse mixture, computed by hand
    c, d = 1, 3
    params = {"log_diag": draws["log_diag"][c, d], LAPSE_SITE: draws[LAPSE_SITE][c, d]}
    p0 = jax.nn.sigmoid(_mvp(pn.OddityTask()).trial_logits(params, trials.ref, trials.probe))
    p = draws[LAPSE_SITE][c, d] / 3 + (1 - draws[LAPSE_SITE][c, d]) * np.asarray(p0, float)
    y = np.asarray(trials.responses)
    np.testing.assert_allclose(idata["log_likelihood"]["y"].values[c, d],
                               np.where(y == 1, np.log(p), np.log1p(-p)), rtol=1e-4)
    with pytest.raises(ValueError, match=r"keys \['log_diag', 'lapse_rate'\]"):
        draws_to_inference_data({"log_diag": draws["log_diag"]}, model, trials)
    with pytest.raises(ValueError, match=r"draws\['lapse_rate'\] must have shape"):
        draws_to_inference_data({**draws, LAPSE_SITE: draws[LAPSE_SITE][0]}, model, trials)
    # a saved MAP with a lapse rate round-trips, model included
    fit = pn.MAPPosterior({"log_diag": jnp.array([-0.8, -0.4]),
                           LAPSE_SITE: jnp.float32(0.07)}, model)
    back = pn.load_fit(pn.save_fit(os.fspath(tmp_path / "fit.nc"), fit))
    assert back.model == model and back.model.task.lapse == pn.LapsePrior(1.0, 19.0)
    assert float(back.params[LAPSE_SITE]) == pytest.approx(0.07)
