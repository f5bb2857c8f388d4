"""A seed-era psyphy script, ported by its import lines only (issue 18, item 3).

psyphy's first releases documented an offline MAP fit of the MVP
(``docs/examples/mvp/offline_fit_mvp_with_map_optimizer.py`` in psyphy's
history). This test makes the same sequence of calls, with the seed's module
paths (``psyphy.model.task``), keywords (``add_trial(ref=, probe=, resp=)``)
and return shapes (``refs, probes, responses = data.to_numpy()``), at a small
size, and checks the numbers against plain NumPy: p(correct) in closed form,
the MAP against the grid posterior, the recorded loss against the negative log
posterior.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

# The seed's import lines, with "psyphy" replaced by "psyphy_numpyro".
from psyphy_numpyro.data.dataset import ResponseData
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer
from psyphy_numpyro.model.noise import GaussianNoise
from psyphy_numpyro.model.prior import Prior
from psyphy_numpyro.model.task import OddityTask
from psyphy_numpyro.model.wppm import WPPM

SLOPE, SCALE, NUM_TRIALS, STEPS = 1.5, 0.5, 80, 200


def _oddity_p(delta, log_diag):
    """The MVP's p(correct) in NumPy: 2/3 + tanh(s d) / 3, d the Mahalanobis length."""
    d = np.sqrt((delta**2 / (np.exp(log_diag) + 1e-6)).sum(-1))
    return 2.0 / 3.0 + np.tanh(SLOPE * d) / 3.0


def _neg_log_posterior(delta, y, log_diag):
    """psyphy's loss: Bernoulli log-likelihood plus N(0, SCALE^2) prior, no constants."""
    p = np.clip(_oddity_p(delta, log_diag), 1e-6, 1 - 1e-6)
    loglik = (y * np.log(p) + (1 - y) * np.log1p(-p)).sum()
    return -loglik + 0.5 * (np.asarray(log_diag) ** 2).sum() / SCALE**2


def test_seed_module_path_and_keywords_give_the_seed_shapes():
    from psyphy_numpyro.model import likelihood

    assert OddityTask is likelihood.OddityTask
    rng = np.random.default_rng(0)
    refs, probes = rng.uniform(-1, 1, (2, 5, 2))
    data = ResponseData()
    for r, p, y in zip(refs, probes, [1, 0, 1, 1, 0]):
        data.add_trial(ref=r, probe=p, resp=y)
    got_refs, got_probes, got_y = data.to_numpy()
    np.testing.assert_array_equal(got_refs, refs)
    np.testing.assert_array_equal(got_probes, probes)
    np.testing.assert_array_equal(got_y, [1, 0, 1, 1, 0])


@pytest.mark.slow
def test_seed_era_offline_map_fit_runs_with_seed_shapes(mvp_grid_posterior):
    # 1) truth and simulated trials, filled one by one with the seed's keywords
    task = OddityTask(slope=SLOPE)
    noise = GaussianNoise(sigma=1.0)
    truth_model = WPPM(input_dim=2, prior=Prior.default(input_dim=2), task=task,
                       noise=noise)
    truth = {"log_diag": jnp.array([np.log(0.9), np.log(0.01)])}
    rng = np.random.default_rng(3)
    ref = np.array([0.0, 0.0])
    data = ResponseData()
    deltas, answers, probs = [], [], []
    for _ in range(NUM_TRIALS):
        angle, radius = rng.uniform(0.0, 2 * np.pi), rng.uniform(0.0, 0.25)
        probe = ref + radius * np.array([np.cos(angle), np.sin(angle)])
        p = float(truth_model.predict_prob(truth, (jnp.array(ref), jnp.array(probe))))
        y = int(rng.uniform() < p)
        data.add_trial(ref=ref.copy(), probe=probe.copy(), resp=y)
        deltas.append(probe - ref)
        answers.append(y)
        probs.append(p)
    deltas, answers = np.array(deltas), np.array(answers)
    np.testing.assert_allclose(probs, _oddity_p(deltas, np.log([0.9, 0.01])),
                               rtol=1e-5)

    # 2) the model to fit, and 3) the seed's MAPOptimizer call
    model = WPPM(input_dim=2, prior=Prior.default(input_dim=2, scale=SCALE),
                 task=task, noise=noise)
    optimizer = MAPOptimizer(steps=STEPS, learning_rate=2e-2, momentum=0.9,
                             track_history=True, log_every=10)
    init_params = model.init_params(jax.random.PRNGKey(42))
    posterior = optimizer.fit(model, data, init_params=init_params)
    fitted = np.asarray(posterior.params["log_diag"], dtype=float)
    assert fitted.shape == (2,) and task.slope == SLOPE and noise.sigma == 1.0

    # 4) the seed's readouts: three arrays from to_numpy, the loss history
    refs, probes, responses = data.to_numpy()
    assert refs.shape == probes.shape == (NUM_TRIALS, 2)
    np.testing.assert_array_equal(refs, np.zeros((NUM_TRIALS, 2)))
    np.testing.assert_array_equal(probes - refs, deltas)
    np.testing.assert_array_equal(responses, answers)
    steps_hist, loss_hist = optimizer.get_history()
    assert steps_hist == [*range(0, STEPS, 10), STEPS - 1]
    np.testing.assert_allclose(loss_hist[-1], _neg_log_posterior(deltas, answers, fitted),
                               rtol=1e-4)

    # the MAP is the mode of the exact posterior (one grid step: 0.0225 x 0.03)
    grid, weights = mvp_grid_posterior(refs, probes, responses, slope=SLOPE,
                                       scale=SCALE, n=401)
    mode = grid[np.argmax(weights)]
    assert np.all(np.abs(fitted - mode) <= [0.0225, 0.03]), (fitted, mode)
