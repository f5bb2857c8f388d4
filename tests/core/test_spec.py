"""WPPMSpec: the frozen, hashable model the core and the NumPyro model take."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive

import psyphy_numpyro as pn
from psyphy_numpyro.core.numpyro_model import wppm_model
from psyphy_numpyro.core.spec import WPPMSpec, as_spec


def spec(**changes):
    base = dict(input_dim=2, prior=pn.Prior.default(2), task=pn.OddityTask(),
                noise=pn.GaussianNoise(), diag_term=1e-6)
    return WPPMSpec(**(base | changes))


def test_frozen_hashable_and_equal_by_value():
    a, b = spec(), spec()
    assert a == b and hash(a) == hash(b) and a != spec(task=pn.OddityTask(slope=2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.diag_term = 0.1
    model = pn.WPPM(pn.Prior.default(2))
    assert as_spec(model) == model.spec == a and as_spec(a) is a
    model.likelihood = pn.OddityTask(slope=2.0)  # psyphy's task assignment
    assert model.spec == spec(task=pn.OddityTask(slope=2.0))


def test_equal_specs_share_compiled_code():
    params = {"log_diag": jnp.zeros(2)}
    ref = jnp.zeros((3, 2))
    one, two = spec(), spec()
    trials = pn.core.trials.Trials(ref, ref + 0.1, jnp.ones(3, jnp.int32))
    one.log_likelihood(params, trials)
    size = one.log_likelihood._cache_size()
    two.log_likelihood(params, trials)  # an equal spec: the same compiled function
    assert one.log_likelihood._cache_size() == size
    spec(diag_term=1e-5).log_likelihood(params, trials)
    assert one.log_likelihood._cache_size() == size + 1


def test_the_numpyro_model_takes_the_spec():
    s = spec()
    ref = jnp.zeros((4, 2))
    draws = Predictive(wppm_model, num_samples=2)(jax.random.PRNGKey(0), ref, ref + 0.1,
                                                  spec=s)
    assert draws["log_diag"].shape == (2, 2) and draws["y"].shape == (2, 4)
    np.testing.assert_array_equal(
        draws["y"], Predictive(s.numpyro_model, num_samples=2)(
            jax.random.PRNGKey(0), ref, ref + 0.1)["y"])


@pytest.mark.parametrize("changes, error, match", [
    ({"prior": "prior"}, TypeError, "prior must be"),
    ({"input_dim": 3}, ValueError, "Dimension mismatch"),
    ({"input_dim": 0}, ValueError, "input_dim"),
    ({"noise": "gauss"}, TypeError, "noise must be"),
    ({"task": pn.TwoAFC(), "prior": pn.Prior(2, basis_degree=1)}, TypeError,
     "task must be OddityTask"),
    ({"prior": pn.Prior(2, basis_degree=1), "noise": pn.StudentTNoise(),
      "task": pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))},
     ValueError, "quadrature"),
    ({"diag_term": -1.0}, ValueError, "diag_term"),
])
def test_bad_specs_are_named(changes, error, match):
    with pytest.raises(error, match=match):
        spec(**changes)


def test_as_spec_refuses_other_objects():
    with pytest.raises(TypeError, match="WPPMSpec"):
        as_spec("model")


def test_the_mvp_has_no_full_wppm_p_correct(mvp_model):
    with pytest.raises(ValueError, match="full WPPM's rule.*sigmoid"):
        mvp_model.spec.p_correct({"log_diag": jnp.zeros(2)}, jnp.zeros((1, 2)), jnp.ones((1, 2)))
