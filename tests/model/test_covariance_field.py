"""WPPMCovarianceField: psyphy 0.0.5's values and API, and JAX transformations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.model.covariance_field import CovarianceField, WPPMCovarianceField

psyphy_model = pytest.importorskip("psyphy.model")
psyphy_field = pytest.importorskip("psyphy.model.covariance_field")

SETTINGS = {"basis_degree": 3, "variance_scale": 4e-3,
            "decay_rate": 0.4, "extra_embedding_dims": 1}


@pytest.fixture(scope="module")
def model2(psyphy_twins):
    return psyphy_twins(2, SETTINGS, diag_term=1e-3)


@pytest.fixture(scope="module")
def points():
    return jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (4, 5, 2)), jnp.float32)


def test_field_and_sqrt_equal_psyphys_on_the_same_W(psyphy_twins):
    input_dim = 2
    ours, theirs = psyphy_twins(input_dim, SETTINGS, diag_term=1e-3)
    key = jax.random.PRNGKey(input_dim)
    field = WPPMCovarianceField.from_prior(ours, key)
    other = psyphy_field.WPPMCovarianceField.from_prior(theirs, key)
    np.testing.assert_allclose(field.params["W"], other.params["W"], rtol=1e-6)
    X = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (3, 4, input_dim)))
    np.testing.assert_allclose(field(X), other(X), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(field(X[1, 2]), other(X[1, 2]), rtol=1e-5, atol=1e-9)
    assert field(X).shape == (3, 4, input_dim, input_dim)
    U = field.sqrt_cov(X[0, 0])
    assert U.shape == (input_dim, input_dim + 1)
    np.testing.assert_allclose(U, other.sqrt_cov(X[0, 0]), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(field.sqrt_cov_batch(X[0]), other.sqrt_cov_batch(X[0]),
                               rtol=1e-5, atol=1e-8)


def test_3d_field_equals_a_numpy_chebyshev_sum():
    model = pn.WPPM(pn.Prior(input_dim=3, **SETTINGS), diag_term=1e-3)
    field = WPPMCovarianceField.from_prior(model, jax.random.PRNGKey(7))
    X = np.random.default_rng(2).uniform(-1, 1, (2, 5, 3))
    # U(x) = sum_ijk W_ijk T_i(x_0) T_j(x_1) T_k(x_2), by numpy's Chebyshev basis
    T = [np.polynomial.chebyshev.chebvander(X[..., a], 3) for a in range(3)]
    W = np.asarray(field.params["W"], dtype=float)
    U = np.einsum("...i,...j,...k,ijkde->...de", *T, W)
    want = np.einsum("...de,...fe->...df", U, U) + 1e-3 * np.eye(3)
    np.testing.assert_allclose(field(X), want, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(field.sqrt_cov(X[0, 0]), U[0, 0], rtol=1e-5, atol=1e-8)
    assert field(X[0, 0]).shape == (3, 3) and field(X).shape == (2, 5, 3, 3)


def test_sigma_is_u_ut_plus_diag_term(model2, points):
    ours, _ = model2
    field = WPPMCovarianceField.from_prior(ours, jax.random.PRNGKey(0))
    U = np.asarray(field.sqrt_cov(points), dtype=float)
    want = np.einsum("...ik,...jk->...ij", U, U) + 1e-3 * np.eye(2)
    np.testing.assert_allclose(field(points), want, rtol=1e-5)
    eig = np.linalg.eigvalsh(np.asarray(field(points)))
    assert np.all(eig >= 1e-3 * (1 - 1e-4))  # symmetric positive definite


def test_vmap_and_jit_over_points_match_the_batch_call(model2, points):
    ours, _ = model2
    field = WPPMCovarianceField.from_prior(ours, jax.random.PRNGKey(1))
    batch = field(points[0])
    np.testing.assert_allclose(jax.vmap(lambda x: field(x))(points[0]), batch,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jax.vmap(jax.vmap(field))(points), field(points),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jax.jit(field)(points[0]), batch, rtol=1e-5, atol=1e-7)


def test_vmap_over_a_stack_of_params_and_of_fields(model2, points):
    ours, _ = model2
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    draws = jax.vmap(ours.init_params)(keys)
    stacked = jax.vmap(lambda p: WPPMCovarianceField(ours, p)(points))(draws)
    assert stacked.shape == (3, 4, 5, 2, 2)
    for i in range(3):
        one = WPPMCovarianceField(ours, {"W": draws["W"][i]})
        np.testing.assert_allclose(stacked[i], one(points), rtol=1e-5, atol=1e-7)
    # the field itself is a pytree whose leaves are the parameters
    fields = [WPPMCovarianceField(ours, {"W": draws["W"][i]}) for i in range(3)]
    field_stack = jax.tree.map(lambda *w: jnp.stack(w), *fields)
    np.testing.assert_allclose(jax.vmap(lambda f: f(points))(field_stack), stacked,
                               rtol=1e-5, atol=1e-7)
    assert jax.tree.leaves(fields[0])[0] is fields[0].params["W"]


def test_mvp_field_is_constant(mvp_model, seed_truth):
    field = WPPMCovarianceField.from_params(mvp_model, seed_truth)
    X = jnp.asarray([[0.0, 0.0], [5.0, -3.0], [0.1, 0.2]])  # the MVP has no domain
    want = np.diag(np.exp(np.asarray(seed_truth["log_diag"])))
    np.testing.assert_allclose(field(X), np.broadcast_to(want, (3, 2, 2)), rtol=1e-6)
    np.testing.assert_allclose(field(X[0]), want, rtol=1e-6)
    with pytest.raises(ValueError, match="full WPPM"):
        field.sqrt_cov(X[0])


def test_from_posterior_uses_its_point_estimate(model2):
    ours, _ = model2
    params = ours.init_params(jax.random.PRNGKey(3))
    field = WPPMCovarianceField.from_posterior(pn.MAPPosterior(params, ours))
    assert field.model is ours
    np.testing.assert_array_equal(field.params["W"], params["W"])
    with pytest.raises(TypeError, match=r"\.params and \.model"):
        WPPMCovarianceField.from_posterior(object())


def test_deprecated_cov_and_cov_batch_warn_and_agree(model2, points):
    ours, _ = model2
    field = WPPMCovarianceField.from_prior(ours, jax.random.PRNGKey(4))
    with pytest.warns(DeprecationWarning, match=r"Use field\(x\)"):
        np.testing.assert_allclose(field.cov(points[0, 0]), field(points[0, 0]))
    with pytest.warns(DeprecationWarning, match=r"Use field\(X\)"):
        np.testing.assert_allclose(field.cov_batch(points[0]), field(points[0]))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="single"):
        field.cov(points[0])
    assert isinstance(field, CovarianceField)


def test_bad_input_is_named(model2, points):
    ours, _ = model2
    field = WPPMCovarianceField.from_prior(ours, jax.random.PRNGKey(5))
    with pytest.raises(ValueError, match="Last axis must be input_dim=2"):
        field(jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="Last axis must be input_dim=2"):
        field(1.0)
    with pytest.raises(ValueError, match="Chebyshev domain"):
        field(jnp.array([1.5, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        field(jnp.array([jnp.nan, 0.0]))
    with pytest.raises(ValueError, match="batch"):
        field.sqrt_cov_batch(points[0, 0])
    draws = jax.vmap(ours.init_params)(jax.random.split(jax.random.PRNGKey(0), 2))
    with pytest.raises(ValueError, match="stack of draws"):
        WPPMCovarianceField(ours, draws)
    with pytest.raises(ValueError, match="'W'"):
        WPPMCovarianceField(ours, {"log_diag": jnp.zeros(2)})
    with pytest.raises(TypeError, match="WPPM"):
        WPPMCovarianceField(psyphy_model.WPPM(psyphy_model.Prior()), field.params)
