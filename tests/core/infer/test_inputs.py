"""fixed_density_model: which estimator the fitters that need a deterministic density use."""

import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs, fixed_density_model


def full(input_dim=2, noise=None, **config):
    task = pn.OddityTask(config=pn.OddityTaskConfig(**config))
    return pn.WPPM(pn.Prior(input_dim=input_dim, basis_degree=1), task,
                   noise or pn.GaussianNoise())


def test_an_unset_estimator_becomes_quadrature_where_it_applies():
    model = full(num_samples=8)
    switched = fixed_density_model(model)
    assert model.estimator == "mc" and switched.estimator == "quadrature"
    assert isinstance(switched, pn.WPPM) and switched.spec == fixed_density_model(
        model.spec)  # a spec gives the same spec
    # only the estimator changed, and the given model is untouched
    assert switched.task.config == pn.OddityTaskConfig(num_samples=8,
                                                       estimator="quadrature")
    assert (switched.prior, switched.noise, switched.diag_term) == (
        model.prior, model.noise, model.diag_term)
    assert model.task.config.estimator is None
    # the quadrature model itself, whose density has no draws to fix
    assert switched.spec == full(num_samples=8, estimator="quadrature").spec
    ref = np.array([[0.1, -0.2], [0.5, 0.3]])
    trials = model.trials((ref, ref + 0.1, np.array([1, 0])))
    assert fixed_density_kwargs(switched, trials, 0) == {}
    assert set(fixed_density_kwargs(model, trials, 0)) == {"mc_samples"}


@pytest.mark.parametrize("model", [
    full(estimator="mc"), full(estimator="psyphy"), full(estimator="quadrature"),
    full(input_dim=1), full(noise=pn.StudentTNoise()), full(bandwidth=0.2),
    pn.WPPM(), pn.WPPM(task=pn.TwoAFC()),
], ids=["mc", "psyphy", "quadrature", "1-D", "student-t", "wide-bandwidth", "mvp",
        "2afc"])
def test_a_chosen_estimator_or_a_model_without_quadrature_is_kept(model):
    assert fixed_density_model(model) is model
    assert fixed_density_model(model.spec) is model.spec
