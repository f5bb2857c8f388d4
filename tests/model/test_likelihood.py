"""psyphy's task bases: a subclass writes predict, the bases do the rest."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import psyphy_numpyro as pn
from psyphy_numpyro.model.likelihood import (
    BernoulliTaskLikelihood,
    GaussianTaskLikelihood,
    TaskLikelihood,
)


class DistanceTask(BernoulliTaskLikelihood):
    """p(correct) = 0.5 + 0.4 tanh(|probe - ref|): known in closed form."""

    def predict(self, params, stimuli, model, *, key=None):
        return (0.5 + 0.4 * jnp.tanh(jnp.linalg.norm(stimuli[1] - stimuli[0])),)


class LinearAnswer(GaussianTaskLikelihood):
    """Answer ~ N(probe - ref, 0.25 I)."""

    def predict(self, params, stimuli, model, *, key=None):
        return stimuli[1] - stimuli[0], 0.25 * jnp.eye(stimuli.shape[-1])


def stimuli(n=50):
    rng = np.random.default_rng(0)
    ref = rng.uniform(-1, 1, (n, 2))
    return np.stack([ref, ref + rng.normal(0, 0.5, (n, 2))], axis=1)


def test_the_core_tasks_are_psyphys_kinds():
    for task in (pn.OddityTask(), pn.TwoAFC()):
        assert isinstance(task, BernoulliTaskLikelihood) and isinstance(task, TaskLikelihood)


def test_bernoulli_loglik_and_simulate_from_predict_alone():
    task, s = DistanceTask(), stimuli()
    p = 0.5 + 0.4 * np.tanh(np.linalg.norm(s[:, 1] - s[:, 0], axis=-1))
    y, (p_sim,) = task.simulate({}, s, None, key=jax.random.PRNGKey(1))
    np.testing.assert_allclose(p_sim, p, rtol=1e-6)
    assert y.dtype == jnp.int32 and set(np.unique(y)) <= {0, 1}
    data = pn.TrialData(s, np.asarray(y)[:, None])
    want = np.sum(np.where(np.asarray(y) == 1, np.log(p), np.log1p(-p)))
    np.testing.assert_allclose(task.loglik({}, data, None), want, rtol=1e-5)
    many = jax.vmap(lambda k: task.simulate({}, s, None, key=k)[0])(
        jax.random.split(jax.random.PRNGKey(2), 2000))
    np.testing.assert_allclose(np.mean(many, axis=0), p, atol=0.05)


def test_gaussian_loglik_and_simulate_from_predict_alone():
    task, s = LinearAnswer(), stimuli()
    y, (mean, cov) = task.simulate({}, s, None, key=jax.random.PRNGKey(3))
    np.testing.assert_allclose(mean, s[:, 1] - s[:, 0], rtol=1e-6)
    assert y.shape == (50, 2)
    data = pn.TrialData(s, np.asarray(y))
    want = sum(stats.multivariate_normal(m, 0.25 * np.eye(2)).logpdf(r)
               for m, r in zip(s[:, 1] - s[:, 0], np.asarray(y)))
    np.testing.assert_allclose(task.loglik({}, data, None), want, rtol=1e-4)


def test_a_subclass_without_predict_cannot_be_built():
    class NoPredict(BernoulliTaskLikelihood):
        pass

    with pytest.raises(TypeError, match="predict"):
        NoPredict()


def test_psyphy_style_predict_outputs_are_accepted():
    class BareP(BernoulliTaskLikelihood):  # psyphy's tests return p, not (p,)
        def predict(self, params, stimuli, model, key=None):
            return jnp.array(0.4)

    class ScalarAnswer(GaussianTaskLikelihood):  # a scalar mean and variance
        def predict(self, params, stimuli, model, key=None):
            return jnp.array(0.0), jnp.array(1.0)

    s = stimuli(2)
    data = pn.TrialData(s, np.array([[1], [0]]))
    np.testing.assert_allclose(BareP().loglik({}, data, None), np.log(0.4) + np.log(0.6),
                               rtol=1e-6)
    # psyphy's own test asks for its float32 value to the bit
    assert BareP().loglik({}, data, None) == jnp.sum(jnp.log(jnp.array([0.4, 0.6])))
    zeros = pn.TrialData(s, np.zeros((2, 1)))
    np.testing.assert_allclose(ScalarAnswer().loglik({}, zeros, None),
                               2 * stats.norm.logpdf(0.0), rtol=1e-6)


def test_a_covariance_that_is_not_positive_definite_is_refused():
    class Singular(GaussianTaskLikelihood):
        def predict(self, params, stimuli, model, key=None):
            return jnp.zeros(2), jnp.ones((2, 2))

    with pytest.raises(ValueError, match="not positive definite for 3 trial"):
        Singular().loglik({}, pn.TrialData(stimuli(3), np.zeros((3, 2))), None)
