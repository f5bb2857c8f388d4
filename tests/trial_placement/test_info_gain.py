"""InfoGainPlacement: batches go where the posterior is unsure, spread, and replay."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement


@pytest.fixture(scope="module")
def full_model():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)


class LocalPosterior:
    """Draws of a full WPPM (degree 2) that agree where ``x1 = c`` and differ away.

    Every draw is ``U(x) = (0.1 + t k (x1 - c)^2) [I, 0]`` with
    ``t ~ N(0, 0.3^2)``; ``k`` makes the sd of the scale 30% at ``x1 = a``.
    Where ``x1 = c`` every draw has the same covariance, with zero slope in
    ``x1``, so answers there tell almost nothing.
    """

    def __init__(self, model, c, a):
        self.model = model
        k = 0.1 / (a - c) ** 2
        eye = np.zeros((2, 3))
        eye[:, :2] = np.eye(2)
        self.base = np.zeros(model.prior.shape)
        self.base[0, 0] = 0.1 * eye
        # (x1 - c)^2 = (T_2(x1) + 1) / 2 - 2 c T_1(x1) + c^2 T_0
        self.direction = np.zeros(model.prior.shape)
        self.direction[2, 0] = 0.5 * k * eye
        self.direction[1, 0] = -2.0 * c * k * eye
        self.direction[0, 0] = (0.5 + c**2) * k * eye

    def sample(self, n, *, key):
        t = 0.3 * np.asarray(jax.random.normal(key, (n,)), float)
        W = self.base + t[:, None, None, None, None] * self.direction
        return {"W": jnp.asarray(W, jnp.float32)}


def test_local_posterior_varies_only_away_from_its_certain_line(full_model):
    post = LocalPosterior(full_model, c=0.6, a=-0.4)
    W = post.sample(5, key=jax.random.PRNGKey(0))["W"]
    sd = [np.asarray(jax.vmap(lambda w, x=x: full_model.spec.local_covariance(
        {"W": w}, np.array(x)))(W))[:, 0, 0] for x in ([0.6, 0.3], [-0.4, -0.5])]
    np.testing.assert_allclose(sd[0], 0.01 + 1e-6, rtol=1e-5)  # all agree at x1 = c
    t = np.sqrt(sd[1] - 1e-6) / 0.1 - 1.0  # the scale at x1 = a is 0.1 (1 + t)
    assert np.std(t) > 0.1


@pytest.mark.slow  # the full WPPM's threshold distance and p(correct) compile slowly
@pytest.mark.parametrize("c,a,b,criterion", [
    (0.0, (0.8, 0.0), (0.0, 0.0), "bald"),
    (0.0, (0.8, 0.0), (0.0, 0.0), "threshold"),
    (0.0, (0.8, 0.0), (0.0, 0.0), "threshold_linear"),
    (0.6, (-0.4, -0.5), (0.6, 0.3), "bald"),
])
def test_batch_goes_where_the_posterior_is_unsure(full_model, c, a, b, criterion):
    posterior = LocalPosterior(full_model, c=c, a=a[0])
    # the certain reference first in one case and second in the others
    references = np.array([b, a] if c else [a, b])
    placement = InfoGainPlacement(full_model, criterion, references=references,
                                  query_refs=references, num_candidates=64,
                                  num_draws=16)
    stimuli = placement.propose(posterior, 8).to_numpy()
    assert stimuli.shape == (8, 2, 2)
    np.testing.assert_array_equal(stimuli[:, 0], np.tile(np.float32(a), (8, 1)))
    assert np.all(placement.last_scores > 0)


# -- the MVP: a posterior unsure about one axis -------------------------------------
class AxisPosterior:
    """MVP draws: ``log_diag[unsure]`` spreads, the other entry is the same in all."""

    def __init__(self, model, unsure):
        self.model, self.unsure = model, unsure

    def sample(self, n, *, key):
        log_diag = np.full((n, 2), -3.0)
        log_diag[:, self.unsure] += 0.5 * np.asarray(jax.random.normal(key, (n,)))
        return {"log_diag": jnp.asarray(log_diag, jnp.float32)}




@pytest.mark.parametrize("unsure", [0, 1])
@pytest.mark.parametrize("criterion", ["bald", "threshold", "threshold_linear"])
def test_batch_probes_the_axis_the_posterior_is_unsure_of(unsure, criterion):
    # Along the sure axis every draw gives the same p(correct): nothing to learn.
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    posterior = AxisPosterior(model, unsure)
    for seed in range(5):
        placement = InfoGainPlacement(model, criterion, num_candidates=128,
                                      num_draws=32, seed=seed)
        stimuli = placement.propose(posterior, 8).to_numpy()
        delta = stimuli[:, 1] - stimuli[:, 0]
        along = np.abs(delta[:, unsure]) / np.linalg.norm(delta, axis=1)
        assert np.all(along > 0.8), (seed, along.round(2))


# -- the MVP with fitted posteriors ------------------------------------------------
@pytest.fixture(scope="module")
def mvp_fits():
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    truth = {"log_diag": jnp.array([-1.0, -2.0])}
    data = pn.simulate_trials(jax.random.PRNGKey(0), model, truth, 100)
    map_fit = pn.MAPOptimizer(steps=200, show_progress=False).fit(model, data)
    return {
        "model": model,
        "map": map_fit,
        "laplace": pn.LaplaceApproximation().from_map(map_fit, data),
        "svi": pn.SVIApproximation(steps=200, progress_bar=False).fit(model, data),
    }


def test_proposals_from_laplace_and_svi_replay_from_seed_and_index(mvp_fits):
    model = mvp_fits["model"]
    with pytest.raises(TypeError, match="LaplaceApproximation"):
        InfoGainPlacement(model, num_candidates=8, num_draws=4).propose(
            mvp_fits["map"], 2)
    settings = {"num_candidates": 48, "num_draws": 32, "seed": 3}
    for kind, cls in (("laplace", pn.LaplacePosterior), ("svi", pn.SVIPosterior)):
        posterior = mvp_fits[kind]
        assert isinstance(posterior, cls)
        placement = InfoGainPlacement(model, **settings)
        first = placement.propose(posterior, 6)
        second = placement.propose(posterior, 6)
        assert isinstance(first, pn.TrialBatch)
        a, b = first.to_numpy(), second.to_numpy()
        assert a.shape == (6, 2, 2) and np.all(np.abs(a) <= 1.0)
        assert len(np.unique(a.reshape(6, -1), axis=0)) == 6
        assert placement.last_scores.shape == (6,)
        assert np.all(np.isfinite(placement.last_scores))
        assert not np.array_equal(a, b)  # the second proposal is index 1
        again = InfoGainPlacement(model, **settings)
        replay = [again.propose(posterior, 6, index=k).to_numpy() for k in (1, 0)]
        np.testing.assert_array_equal(replay[0], b)
        np.testing.assert_array_equal(replay[1], a)
        other = InfoGainPlacement(model, **{**settings, "seed": 4})
        assert not np.array_equal(other.propose(posterior, 6).to_numpy(), a)


@pytest.mark.slow  # a NUTS run
def test_nuts_and_stored_draws_are_accepted_and_agree_with_laplace(mvp_fits):
    # the same draws behind two posterior kinds give the same proposal: the
    # placement sees only .model and .sample
    from psyphy_numpyro.posterior.draws import StoredPosterior

    model, laplace = mvp_fits["model"], mvp_fits["laplace"]
    nuts = pn.NUTSSampler(num_warmup=50, num_samples=50, num_chains=1,
                          progress_bar=False).fit(model, laplace.trials)
    settings = {"num_candidates": 48, "num_draws": 16, "seed": 1}
    batch = InfoGainPlacement(model, **settings).propose(nuts, 4).to_numpy()
    assert batch.shape == (4, 2, 2) and len(np.unique(batch.reshape(4, -1), axis=0)) == 4
    stored = StoredPosterior(model, nuts.params, nuts.samples)
    np.testing.assert_array_equal(
        InfoGainPlacement(model, **settings).propose(stored, 4).to_numpy(), batch)


@pytest.mark.parametrize("criterion", ["bald", "threshold", "threshold_linear"])
def test_batch_is_not_copies_of_one_trial(criterion):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    posterior = AxisPosterior(model, unsure=0)
    references = np.array([[0.0, 0.0], [0.3, 0.3], [-0.3, 0.2], [0.1, -0.4]])
    for seed in range(3):
        placement = InfoGainPlacement(model, criterion, references=references,
                                      num_candidates=16, num_draws=32, seed=seed)
        stimuli = placement.propose(posterior, 6).to_numpy()
        assert len(np.unique(stimuli.reshape(6, -1), axis=0)) == 6
        assert len(np.unique(stimuli[:, 0], axis=0)) >= 3  # 4 candidates per reference


def test_posterior_and_batch_size_are_checked():
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    other = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=1.0))
    placement = InfoGainPlacement(other, num_candidates=8, num_draws=4)
    with pytest.raises(ValueError, match="another model"):
        placement.propose(AxisPosterior(model, 0), 2)
    with pytest.raises(TypeError, match="posterior must have .model and .sample"):
        placement.propose(object(), 2)
    posterior = AxisPosterior(other, 0)
    with pytest.raises(ValueError, match="batch_size=9 exceeds num_candidates=8"):
        placement.propose(posterior, 9)
    with pytest.raises(ValueError, match="batch_size"):
        placement.propose(posterior, 0)
    with pytest.raises(ValueError, match="index"):
        placement.propose(posterior, 2, index=-1)


# -- settings ----------------------------------------------------------------------
def test_defaults(full_model):
    placement = InfoGainPlacement(full_model)
    assert placement.criterion == "bald"
    np.testing.assert_array_equal(placement.bounds, [[-1.0, 1.0], [-1.0, 1.0]])
    q, grid = placement.query_refs, pn.reference_grid(5)  # the same points
    np.testing.assert_allclose(q[np.lexsort(q.T)], grid[np.lexsort(grid.T)], atol=1e-12)
    box = InfoGainPlacement(full_model, bounds=[(0.0, 0.4), (-0.2, 0.2)])
    q = box.query_refs
    assert np.all((q > [0.0, -0.2]) & (q < [0.4, 0.2]))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"criterion": "entropy"}, ValueError, "criterion"),
    ({"bounds": [(-1.5, 1.0), (-1.0, 1.0)]}, ValueError, "Chebyshev"),
    ({"bounds": [(0.0, 0.5), (-1.0, 1.0)], "references": [[0.6, 0.0]]}, ValueError,
     "references must lie inside bounds"),
    ({"references": [[0.0, 0.0, 0.0]]}, ValueError, "references must have shape"),
    ({"query_refs": [[1.5, 0.0]]}, ValueError, "query_refs must lie inside bounds"),
    ({"num_draws": 1}, ValueError, "num_draws"),
    ({"num_candidates": 0}, ValueError, "num_candidates"),
    ({"num_fantasies": 0}, ValueError, "num_fantasies"),
    ({"distance_range": (3.0, 0.2)}, ValueError, "distance_range"),
    ({"distance_range": (0.0, 1.0)}, ValueError, r"distance_range\[0\]"),
    ({"seed": 1.5}, TypeError, "seed"),
])
def test_bad_settings_are_refused(full_model, kwargs, error, match):
    with pytest.raises(error, match=match):
        InfoGainPlacement(full_model, **kwargs)


def test_model_must_be_a_wppm():
    with pytest.raises(TypeError, match="model must be a psyphy_numpyro.WPPM"):
        InfoGainPlacement(object())
