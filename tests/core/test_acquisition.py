"""Acquisition scores and greedy batches against direct enumeration of the answers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.acquisition import (
    Linearisation,
    bald_scores,
    binary_entropy,
    greedy_batch,
    linear_threshold_batch,
    linearise,
    threshold_directions,
    threshold_scores,
    threshold_summary,
)
from psyphy_numpyro.core.draws import p_correct_draws

SLOPE = 1.5  # the default OddityTask's slope


# -- independent truths (float64 numpy) -------------------------------------------
def _mvp_p(log_diag, ref, probe, slope=SLOPE, eps=1e-6):
    """MVP oddity p(correct): 2/3 + tanh(slope d) / 3, d the Mahalanobis distance."""
    var = np.exp(np.asarray(log_diag, float)) + eps  # (S, d)
    delta2 = (np.asarray(probe, float) - np.asarray(ref, float)) ** 2  # (C, d)
    d = np.sqrt((delta2[None] / var[:, None]).sum(-1))  # (S, C)
    return 2.0 / 3.0 + np.tanh(slope * d) / 3.0


def _answer_probs(p):
    """P(y | s) with y = 0, 1 on the first axis: shape (2, S, C)."""
    p = np.asarray(p, float)
    return np.stack([1.0 - p, p])


def _mutual_information(p, w):
    """I(y; s) = sum_s sum_y w_s P(y|s) log(P(y|s) / P(y)), per candidate."""
    lik = _answer_probs(p)
    marginal = np.einsum("s,ysc->yc", w, lik)
    return np.einsum("s,ysc->c", w, lik * np.log(lik / marginal[:, None]))


def _weighted_var(w, g):
    mean = w @ g
    return w @ (g - mean) ** 2


def _variance_fall(p, g, w):
    """sum_q [Var_w(g_q) - sum_y P(y) Var_{w|y}(g_q)], draws reweighted per answer."""
    lik = _answer_probs(p)
    scores = []
    for c in range(lik.shape[2]):
        prior_var = _weighted_var(w, g).sum()
        after = 0.0
        for y in (0, 1):
            joint = w * lik[y, :, c]
            prob_y = joint.sum()
            after += prob_y * _weighted_var(joint / prob_y, g).sum()
        scores.append(prior_var - after)
    return np.array(scores)


def _entropy(q):
    q = np.asarray(q, float)
    return -(q * np.log(q) + (1.0 - q) * np.log1p(-q))


def _greedy_increment(p, w, first, c):
    """Exact H(y_c | y_first) - E_s H(y_c | s): BatchBALD's gain of c after first."""
    lik = _answer_probs(p)
    conditional = 0.0
    for y in (0, 1):
        joint = w * lik[y, :, first]
        conditional += joint.sum() * _entropy((joint / joint.sum()) @ p[:, c])
    return conditional - w @ _entropy(p[:, c])


@pytest.fixture(scope="module")
def mvp_problem():
    """5 MVP draws, 7 candidate trials, and their p(correct) from the closed form."""
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    log_diag = np.array([[-3.0, -3.0], [-2.0, -4.0], [-1.0, -2.0], [-4.0, -1.5],
                         [-2.5, -2.5]])
    rng = np.random.default_rng(15)
    ref = rng.uniform(-0.5, 0.5, (7, 2))
    angle, radius = rng.uniform(0.0, np.pi, 7), rng.uniform(0.03, 0.12, 7)
    probe = ref + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    return model, log_diag, ref, probe, _mvp_p(log_diag, ref, probe)


# -- single-trial scores -----------------------------------------------------------
def test_mvp_p_correct_of_draws_is_the_closed_form(mvp_problem):
    model, log_diag, ref, probe, p = mvp_problem
    ours = p_correct_draws(model.spec, {"log_diag": jnp.asarray(log_diag, jnp.float32)},
                           jnp.asarray(ref, jnp.float32),
                           jnp.asarray(probe, jnp.float32), None)
    np.testing.assert_allclose(ours, p, rtol=1e-5)
    assert 0.7 < p.min() and p.max() < 0.95  # informative, away from the clip


def test_bald_is_the_mutual_information_of_answer_and_draw(mvp_problem):
    *_, p = mvp_problem
    exact = _mutual_information(p, np.full(5, 0.2))
    assert exact.min() > 5e-3  # the draws disagree on every candidate
    np.testing.assert_allclose(bald_scores(p), exact, rtol=1e-4, atol=1e-6)


def test_bald_with_weighted_draws(mvp_problem):
    *_, p = mvp_problem
    w = np.array([0.5, 0.05, 0.2, 0.15, 0.1])
    exact = _mutual_information(p, w)
    np.testing.assert_allclose(bald_scores(p, w), exact, rtol=1e-4, atol=1e-6)
    assert not np.allclose(exact, _mutual_information(p, np.full(5, 0.2)), rtol=1e-2)


def test_bald_is_zero_where_the_draws_agree_and_log2_at_most():
    p = np.array([[0.3, 0.0, 1.0, 0.999999], [0.3, 1.0, 0.0, 0.000001]])
    scores = np.asarray(bald_scores(p))
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(scores[1:], np.log(2.0), rtol=1e-4)
    assert np.asarray(binary_entropy(jnp.array([0.0, 1.0]))) == pytest.approx(0.0,
                                                                             abs=2e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_threshold_scores_are_the_expected_variance_fall(mvp_problem, weighted):
    *_, p = mvp_problem
    g = np.random.default_rng(2).standard_normal((5, 3))
    w = np.array([0.5, 0.05, 0.2, 0.15, 0.1]) if weighted else np.full(5, 0.2)
    exact = _variance_fall(p, g, w)
    assert exact.min() > 1e-4  # every candidate is informative
    ours = threshold_scores(p, g, w) if weighted else threshold_scores(p, g)
    np.testing.assert_allclose(ours, exact, rtol=1e-4, atol=1e-6)


def test_threshold_scores_of_mvp_summaries(mvp_problem):
    model, log_diag, *_, p = mvp_problem
    g = threshold_summary(model.spec, {"log_diag": jnp.asarray(log_diag, jnp.float32)},
                          np.zeros((1, 2)))
    exact = _variance_fall(p, g, np.full(5, 0.2))
    np.testing.assert_allclose(threshold_scores(p, g), exact, rtol=1e-4, atol=1e-6)


# -- greedy batches ----------------------------------------------------------------
@pytest.mark.parametrize("criterion", ["bald", "threshold"])
def test_first_pick_is_the_best_single_trial(criterion):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, (12, 20))
    g = rng.standard_normal((12, 4))
    single = bald_scores(p) if criterion == "bald" else threshold_scores(p, g)
    batch = greedy_batch(jax.random.key(0), p, 5, criterion=criterion, summary=g)
    assert int(batch.index[0]) == int(np.argmax(single))
    assert float(batch.score[0]) == pytest.approx(float(np.max(single)), rel=1e-6)


@pytest.mark.parametrize("criterion", ["bald", "threshold"])
def test_batch_indices_are_distinct(criterion):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, (10, 8))
    batch = greedy_batch(jax.random.key(1), p, 8, criterion=criterion,
                         summary=rng.standard_normal((10, 2)))
    assert sorted(np.asarray(batch.index).tolist()) == list(range(8))
    assert np.all(np.isfinite(batch.score)) and np.all(np.asarray(batch.score) >= -1e-6)


def test_batch_does_not_repeat_a_duplicated_candidate():
    # Candidates 1 and 3 are one trial twice (they split draws {0,1} from {2,3});
    # candidate 0 splits {0,2} from {1,3}, scores a little lower alone, and is
    # independent of the duplicate. Whatever the answer to the first pick, the
    # duplicate then tells less than candidate 0 does.
    dup, other = np.array([0.9, 0.9, 0.1, 0.1]), np.array([0.85, 0.15, 0.85, 0.15])
    p = np.stack([other, dup, np.full(4, 0.5), dup], axis=1)
    w = np.full(4, 0.25)
    single = _mutual_information(p, w)
    assert single[1] == single[3] > single[0] > 0.0  # top-2 alone would be {1, 3}
    after = {c: _greedy_increment(p, w, 1, c) for c in (0, 3)}
    assert after[3] < after[0] - 0.1
    for seed in range(4):
        batch = greedy_batch(jax.random.key(seed), p, 2, num_fantasies=8)
        assert np.asarray(batch.index).tolist() == [1, 0]
        np.testing.assert_allclose(batch.score, [single[1], after[0]], rtol=1e-4)


def test_second_pick_scores_the_exact_greedy_increment():
    # 3 draws, 3 candidates: after the first pick, each fantasy reweights the
    # draws by a sampled answer, so 4096 fantasies average the exact
    # H(y2 | y1) - E_s H(y2 | s). Candidate 1 scores higher alone, but 0 told
    # much of what it would; the exact greedy second pick is 2.
    p = np.array([[0.95, 0.05, 0.24],
                  [0.06, 0.82, 0.92],
                  [0.84, 0.10, 0.91]])
    w = np.full(3, 1.0 / 3.0)
    single = _mutual_information(p, w)
    assert np.argmax(single) == 0 and single[1] > single[2] + 0.05
    increments = {c: _greedy_increment(p, w, 0, c) for c in (1, 2)}
    assert increments[2] > increments[1] + 0.07  # the exact greedy choice is clear
    assert increments[2] < single[2] - 0.06  # and conditioning changed its score
    batch = greedy_batch(jax.random.key(5), p, 2, num_fantasies=4096)
    assert np.asarray(batch.index).tolist() == [0, 2]
    assert float(batch.score[1]) == pytest.approx(increments[2], abs=0.01)




def test_greedy_bald_never_prefers_a_trial_that_tells_nothing():
    # Candidates 0-2 are one informative trial three times; candidate 3 has the
    # same p under both draws, so it tells nothing under any weighting. Both
    # draws keep positive weight after any answers, so each remaining copy of
    # the informative trial still tells something: it must come before 3.
    p = np.array([[0.99, 0.99, 0.99, 0.7],
                  [0.60, 0.60, 0.60, 0.7]])
    for seed in range(6):
        batch = greedy_batch(jax.random.key(seed), p, 4, num_fantasies=1)
        assert np.asarray(batch.index).tolist() == [0, 1, 2, 3]
        assert np.all(np.asarray(batch.score) >= -1e-6)


def test_greedy_batch_is_reproducible_from_its_key():
    p = np.random.default_rng(6).uniform(0.05, 0.95, (16, 30))
    a = greedy_batch(jax.random.key(2), p, 6, num_fantasies=2)
    b = greedy_batch(jax.random.key(2), p, 6, num_fantasies=2)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.score, b.score)


# -- threshold summaries -----------------------------------------------------------
def test_threshold_directions_determine_a_symmetric_matrix():
    for d in (1, 2, 3):
        u = threshold_directions(d)
        assert u.shape == (d * (d + 1) // 2, d)
        np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0)
        # u^T M u over these directions is an invertible map of symmetric M
        rows, cols = np.triu_indices(d)
        design = np.stack([u[:, i] * u[:, j] * (1 if i == j else 2)
                           for i, j in zip(rows, cols)], 1)
        assert np.linalg.matrix_rank(design) == d * (d + 1) // 2


def test_threshold_summary_of_the_mvp_is_the_log_radius():
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    log_diag = np.array([[-1.0, -3.0], [0.5, -0.2], [-2.0, -2.0]])
    query = np.array([[0.0, 0.0], [0.4, -0.7]])
    ours = np.asarray(threshold_summary(model.spec, {"log_diag": jnp.asarray(
        log_diag, jnp.float32)}, query))
    u = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) / np.array([[1.0], [1.0],
                                                                    [np.sqrt(2.0)]])
    quad = (u[None] ** 2 / np.exp(log_diag)[:, None]).sum(-1)  # u^T Sigma^-1 u, (S, 3)
    expected = np.tile(-0.5 * np.log(quad), (1, 2))  # the same at every query ref
    assert ours.shape == (3, 6)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_threshold_summary_of_the_full_wppm_per_reference():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)
    W = 0.1 * np.random.default_rng(7).standard_normal((4, *model.prior.shape))
    query = np.array([[0.0, 0.0], [0.5, -0.3], [-0.9, 0.8]])
    ours = np.asarray(threshold_summary(model.spec, {"W": jnp.asarray(W, jnp.float32)},
                                        query))

    def cheb(x):  # T_0, T_1, T_2
        return np.array([np.ones_like(x), x, 2 * x**2 - 1])

    phi = np.einsum("iq,jq->qij", cheb(query[:, 0]), cheb(query[:, 1]))
    U = np.einsum("qij,sijde->sqde", phi, W)
    cov = U @ np.swapaxes(U, -1, -2) + 1e-6 * np.eye(2)
    u = threshold_directions(2)
    quad = np.einsum("kd,sqde,ke->sqk", u, np.linalg.inv(cov), u)
    np.testing.assert_allclose(ours, (-0.5 * np.log(quad)).reshape(4, 9), atol=2e-4)


# -- refusals ----------------------------------------------------------------------
GOOD_P = np.full((3, 4), 0.5)


@pytest.mark.parametrize("p,match", [
    (np.array([[0.5, 1.2], [0.3, 0.4]]), "p must hold probabilities"),
    (np.array([[0.5, -0.1], [0.3, 0.4]]), "p must hold probabilities"),
    (np.array([[0.5, np.nan], [0.3, 0.4]]), "p contains 1 NaN"),
    (np.array([0.5, 0.4]), "p must have 2 dimension"),
])
def test_bad_p_is_refused(no_compilation, p, match):
    with no_compilation():
        for score in (bald_scores, lambda q: threshold_scores(q, np.zeros((2, 1))),
                      lambda q: greedy_batch(jax.random.key(0), q, 1)):
            with pytest.raises(ValueError, match=match):
                score(p)


@pytest.mark.parametrize("weights", [np.full(3, 0.5), np.full(4, 0.25),
                                     np.array([1.2, -0.1, -0.1]), np.ones((3, 1)) / 3])
def test_bad_weights_are_refused(no_compilation, weights):
    with no_compilation(), pytest.raises(ValueError, match="weights"):
        bald_scores(GOOD_P, weights)
    with no_compilation(), pytest.raises(ValueError, match="weights"):
        threshold_scores(GOOD_P, np.zeros((3, 1)), weights)


def test_bad_greedy_settings_are_refused():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="criterion"):
        greedy_batch(key, GOOD_P, 2, criterion="entropy")
    with pytest.raises(ValueError, match="batch_size=5 exceeds the 4 candidates"):
        greedy_batch(key, GOOD_P, 5)
    with pytest.raises(ValueError, match="batch_size"):
        greedy_batch(key, GOOD_P, 0)
    with pytest.raises(TypeError, match="batch_size"):
        greedy_batch(key, GOOD_P, 2.0)
    with pytest.raises(ValueError, match="num_fantasies"):
        greedy_batch(key, GOOD_P, 2, num_fantasies=0)
    with pytest.raises(ValueError, match="needs summary"):
        greedy_batch(key, GOOD_P, 2, criterion="threshold")
    with pytest.raises(ValueError, match="summary needs one row per draw"):
        greedy_batch(key, GOOD_P, 2, criterion="threshold",
                     summary=np.zeros((4, 1)))
    with pytest.raises(ValueError, match="summary contains"):
        greedy_batch(key, GOOD_P, 2, criterion="threshold",
                     summary=np.full((3, 1), np.inf))
    with pytest.raises(ValueError, match="summary needs one row per draw"):
        threshold_scores(GOOD_P, np.zeros((2, 1)))


# -- the linearised threshold criterion ----------------------------------------------
def _gaussian_variance_falls(jac_p, p, jac_g, cov, picks):
    """Per candidate, the fall of sum_q Var(g_q) after one more answer, given ``picks``.

    The exact linear-Gaussian update through precision matrices (float64):
    an answer to c adds a_c a_c^T, a_c = grad p_c / sqrt(p_c (1 - p_c)).
    """
    a = jac_p / np.sqrt(p * (1.0 - p))[:, None]
    precision = np.linalg.inv(cov) + sum(np.outer(a[c], a[c]) for c in picks)
    before = np.linalg.inv(precision)
    falls = []
    for c in range(len(p)):
        after = np.linalg.inv(precision + np.outer(a[c], a[c]))
        falls.append(np.trace(jac_g @ (before - after) @ jac_g.T))
    return np.array(falls)


def test_linear_batch_picks_and_scores_are_the_gaussian_variance_fall():
    rng = np.random.default_rng(3)
    num_draws, num_params, num_cand = 400, 5, 9
    deviations = rng.normal(size=(num_draws, num_params)) * [0.3, 0.1, 0.5, 0.2, 0.05]
    deviations -= deviations.mean(axis=0)
    cov = deviations.T @ deviations / num_draws
    jac_p = rng.normal(size=(num_cand, num_params))
    p = rng.uniform(0.4, 0.95, num_cand)
    jac_g = rng.normal(size=(3, num_params))
    lin = Linearisation(p, jac_p, jac_g, deviations)
    batch = linear_threshold_batch(lin, 3)
    picks = []
    for index, score in zip(np.asarray(batch.index), np.asarray(batch.score)):
        falls = _gaussian_variance_falls(jac_p, p, jac_g, cov, picks)
        falls[picks] = -np.inf
        assert index == np.argmax(falls)
        np.testing.assert_allclose(score, falls[index], rtol=2e-4)
        picks.append(index)


def test_linear_batch_does_not_repeat_a_duplicated_candidate():
    # candidates 0 and 1 are the same trial: after one, the other tells little
    rng = np.random.default_rng(4)
    deviations = rng.normal(size=(300, 3))
    jac_p = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.9, 0.0], [0.0, 0.0, 0.1]])
    lin = Linearisation(np.full(4, 0.7), 3.0 * jac_p, np.eye(3), deviations)
    assert sorted(np.asarray(linear_threshold_batch(lin, 2).index).tolist()) == [0, 2]


def test_linearise_the_mvp_is_the_closed_form_gradient(mvp_problem):
    model, log_diag, ref, probe, _ = mvp_problem
    draws = {"log_diag": jnp.asarray(log_diag, jnp.float32)}
    query = np.array([[0.0, 0.0], [0.3, -0.2]])
    lin = linearise(model.spec, draws, ref, probe, None, query)
    mean = log_diag.mean(axis=0)
    np.testing.assert_allclose(lin.p, _mvp_p(mean[None], ref, probe)[0], atol=2e-6)
    # dp/dl_i = slope sech^2(slope d) / 3 * dd/dl_i,
    # dd/dl_i = -delta_i^2 e^l_i / (2 d v_i^2)
    var = np.exp(mean) + 1e-6
    delta2 = (probe - ref) ** 2
    d = np.sqrt((delta2 / var).sum(axis=1))
    dd = -delta2 * np.exp(mean) / (2.0 * d[:, None] * var**2)
    want = (SLOPE / np.cosh(SLOPE * d) ** 2 / 3.0)[:, None] * dd
    np.testing.assert_allclose(lin.jac_p, want, rtol=1e-3, atol=1e-6)
    # g = -log(u' V^-1 u) / 2 per direction; the same at every MVP reference
    u = threshold_directions(2)
    quad = (u**2 / var).sum(axis=1)
    grad_g = 0.5 * (u**2 * np.exp(mean) / var**2) / quad[:, None]
    np.testing.assert_allclose(lin.jac_g, np.tile(grad_g, (2, 1)), rtol=1e-4)
    np.testing.assert_allclose(lin.deviations, log_diag - mean, atol=1e-6)


@pytest.mark.slow  # the quadrature's gradients compile for about 10 s
def test_linearise_the_full_wppm_agrees_with_reverse_mode_on_the_whole_batch():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)
    draws = jax.vmap(model.init_params)(jax.random.split(jax.random.PRNGKey(2), 6))
    rng = np.random.default_rng(5)
    ref = rng.uniform(-0.6, 0.6, (5, 2))
    probe = ref + rng.normal(0.0, 0.08, (5, 2))
    lin = linearise(model.spec, draws, ref, probe, None, ref[:2])
    mean = jax.tree_util.tree_map(lambda x: x.mean(axis=0), draws)

    def p_all(W):
        return jax.nn.sigmoid(model.spec.trial_logits({"W": W}, ref, probe))

    np.testing.assert_allclose(lin.p, p_all(mean["W"]), atol=1e-6)
    np.testing.assert_allclose(
        lin.jac_p, np.asarray(jax.jacrev(p_all)(mean["W"])).reshape(5, -1), rtol=1e-5,
        atol=1e-5)
    summary = jax.jacfwd(
        lambda W: threshold_summary(model.spec, {"W": W[None]}, ref[:2])[0])
    np.testing.assert_allclose(
        lin.jac_g, np.asarray(summary(mean["W"])).reshape(6, -1), rtol=1e-4, atol=1e-5)


def test_bad_linearisations_are_refused(no_compilation):
    good = Linearisation(np.full(4, 0.5), np.zeros((4, 3)), np.zeros((2, 3)),
                         np.zeros((5, 3)))
    with no_compilation():
        with pytest.raises(ValueError, match="batch_size=5 exceeds the 4 candidates"):
            linear_threshold_batch(good, 5)
        with pytest.raises(TypeError, match="lin must be a Linearisation"):
            linear_threshold_batch(tuple(good), 2)
        with pytest.raises(ValueError, match="lin.p must hold probabilities"):
            linear_threshold_batch(good._replace(p=np.full(4, 1.5)), 2)
        with pytest.raises(ValueError, match="lin's shapes disagree"):
            linear_threshold_batch(good._replace(jac_g=np.zeros((2, 4))), 2)
        with pytest.raises(ValueError, match="lin.deviations contains"):
            linear_threshold_batch(good._replace(deviations=np.full((5, 3), np.nan)), 2)
        model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
        draws = {"log_diag": np.zeros((3, 2), np.float32)}
        with pytest.raises(ValueError, match="probe must have the shape of ref"):
            linearise(model.spec, draws, np.zeros((4, 2)), np.zeros((3, 2)), None,
                      np.zeros((1, 2)))
