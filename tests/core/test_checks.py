"""Argument checks: clear errors before anything is compiled."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core import checks as check


def test_the_compilation_guard_sees_a_compile(no_compilation):
    with pytest.raises(AssertionError, match="compiled before refusing"):
        with no_compilation():
            jax.jit(lambda x: x + 1)(jnp.ones(2))


@pytest.mark.parametrize("value", [np.array([1 + 2j, 3]), [0.5j], np.complex64(1)])
def test_complex_values_are_refused_not_cast(value):
    with pytest.raises(TypeError, match="stim must be real"):
        check.finite_array("stim", value)


def test_complex_stimuli_are_refused_before_compiling(mvp_model, no_compilation):
    ref = np.zeros((4, 2)) + 0j
    data = (ref, ref + 0.1, np.ones(4, int))
    with no_compilation(), pytest.raises(TypeError, match="must be real"):
        pn.MAPOptimizer(steps=2, show_progress=False).fit(mvp_model, data)


def test_params_are_checked_at_psyphys_entry_points(mvp_model, seed_data, no_compilation):
    bad = {"log_diag": jnp.array([0.0, jnp.nan])}
    good = {"log_diag": jnp.zeros(2)}
    pair = (np.zeros(2), np.full(2, 0.1))
    with no_compilation():
        for call in (lambda: mvp_model.predict_prob(bad, pair),
                     lambda: mvp_model.discriminability(bad, pair),
                     lambda: mvp_model.log_likelihood_from_data(bad, seed_data),
                     lambda: mvp_model.predict_prob({"W": good["log_diag"]}, pair)):
            with pytest.raises(ValueError, match="params"):
                call()
        with pytest.raises(ValueError, match=r"shape \(2,\)"):
            mvp_model.predict_prob(good, (np.zeros(3), np.zeros(2)))


def test_traced_params_pass_the_checks(mvp_model):
    # psyphy differentiates these entry points: checks must not break tracing
    params = {"log_diag": jnp.zeros(2)}
    grad = jax.grad(lambda p: mvp_model.predict_prob(p, (np.zeros(2), np.full(2, 0.1))))
    assert np.all(np.isfinite(grad(params)["log_diag"]))


def test_full_model_point_outside_the_domain_is_refused_like_task_predict():
    model = pn.WPPM(pn.Prior(2, basis_degree=1))
    params = model.init_params(jax.random.PRNGKey(0))
    pair = (np.zeros(2), np.full(2, 1.5))
    with pytest.raises(ValueError, match="Chebyshev domain"):
        model.task.predict(params, np.stack(pair), model)
    with pytest.raises(ValueError, match="Chebyshev domain"):
        model.predict_prob(params, pair)


def test_core_entry_points_refuse_bad_input_before_compiling(mvp_model, seed_data,
                                                             no_compilation):
    trials = mvp_model.trials(seed_data)
    nan = {"log_diag": jnp.array([jnp.nan, 0.0])}
    zero = {"log_diag": jnp.zeros(2)}
    key = jax.random.PRNGKey(0)
    fit = lambda *args, **kw: pn.fit_map(key, mvp_model.numpyro_model, *args,  # noqa: E731
                                         num_steps=3, progress_bar=False, **kw)
    cases = [
        (lambda: fit(trials.ref, trials.probe, np.full(len(trials.ref), 2)), ValueError,
         "responses must be 0"),
        (lambda: fit(trials.ref * np.nan, trials.probe, trials.responses), ValueError, "ref"),
        (lambda: fit(*trials, init_params=nan), ValueError, "init_params"),
        (lambda: pn.fit_map(0, mvp_model.numpyro_model, *trials, num_steps=3), TypeError,
         "rng_key must be a JAX PRNG key"),
        (lambda: pn.threshold_contour(mvp_model, nan), ValueError, "params"),
        (lambda: pn.simulate_trials(key, mvp_model, nan, 5), ValueError, "params"),
        (lambda: pn.simulate_trials(key, mvp_model, zero, 0),
         ValueError, "num_trials"),
        (lambda: pn.simulate_responses("key", mvp_model, zero,
                                       trials.ref, trials.probe), TypeError, "rng_key"),
    ]
    for call, error, match in cases:
        with no_compilation(), pytest.raises(error, match=match):
            call()


def test_good_input_still_fits(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    result = pn.fit_map(jax.random.key(0), mvp_model.numpyro_model, *trials,  # typed key
                        num_steps=5, progress_bar=False)
    assert np.all(np.isfinite(result.params["log_diag"]))


@pytest.mark.parametrize("make", [
    lambda: pn.MAPOptimizer(steps=10**11),
    lambda: pn.SVIApproximation(steps=2**31),
    lambda: pn.NUTSSampler(num_warmup=2**31 - 10, num_samples=100),
    lambda: pn.LangevinSampler(steps=2**31),
])
def test_iteration_counts_beyond_int32_are_refused(make, no_compilation):
    """JAX counts loop iterations in int32: a larger count would wrap around."""
    with no_compilation(), pytest.raises(ValueError, match="at most 2147483647"):
        make()


def test_the_largest_iteration_count_is_accepted():
    assert check.iterations("steps", 2**31 - 1) == 2**31 - 1
    assert check.iterations("num_warmup", 0, minimum=0) == 0
