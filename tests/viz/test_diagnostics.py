"""Diagnostic figures: the learning curve and trace plots of identified quantities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.posterior.mcmc import NUTSPosterior
from psyphy_numpyro.viz.diagnostics import plot_trace, trace_quantities


def test_learning_curve_renders():
    ax = pn.plot_learning_curve(np.arange(5), np.linspace(3.0, 1.0, 5))
    assert len(ax.lines) == 1
    assert ax.get_xlabel() and ax.get_ylabel()


def _posterior(model, trials, draws):
    chains, n = draws.shape[:2]
    fields = {"diverging": np.zeros((chains, n), bool),
              "potential_energy": np.arange(chains * n, dtype=float).reshape(chains, n)}
    return NUTSPosterior({model.prior.site: draws}, fields, model, trials)


def test_trace_of_the_mvp_has_a_labelled_row_per_dimension(mvp_model, seed_truth,
                                                            seed_data):
    draws = np.random.default_rng(0).normal(size=(3, 20, 2))  # chains, draws, dim
    post = _posterior(mvp_model, mvp_model.trials(seed_data), draws)
    values = trace_quantities(post)
    assert list(values) == ["log_diag[0]", "log_diag[1]"]
    np.testing.assert_allclose(values["log_diag[1]"], draws[:, :, 1], rtol=1e-6)
    ax = plot_trace(post, truth=seed_truth)
    assert ax.shape == (2, 2)
    for row, label in enumerate(values):
        assert ax[row, 0].get_xlabel() == ax[row, 1].get_ylabel() == label
        assert ax[row, 0].get_ylabel() == "density"
        assert ax[row, 1].get_xlabel().startswith("draw")
        traces = ax[row, 1].lines[:3]  # one per chain, then the truth
        for c, line in enumerate(traces):
            np.testing.assert_allclose(line.get_ydata(), draws[c, :, row], rtol=1e-6)
        truth_line = ax[row, 1].lines[3]
        np.testing.assert_allclose(truth_line.get_ydata(),
                                   float(seed_truth["log_diag"][row]))
    labels = ax[0, 1].get_legend_handles_labels()[1]
    assert labels == ["chain 0", "chain 1", "chain 2", "truth"]


def test_trace_of_the_full_wppm_shows_sigma_entries_not_w(seed_data):
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1, variance_scale=1e-2))
    w = np.stack([np.asarray(model.init_params(jax.random.PRNGKey(k))["W"])
                  for k in range(6)]).reshape((2, 3) + model.prior.shape)
    post = _posterior(model, model.trials(seed_data), w)
    refs = np.array([[0.0, 0.0], [0.5, -0.5]])
    values = trace_quantities(post, refs=refs)
    assert len(values) == 6 and all(k.startswith("Sigma_") for k in values)
    c, d = 1, 2  # chain 1, draw 2: its own Sigma(x), computed on its own
    cov = np.asarray(model.local_covariance({"W": jnp.asarray(w[c, d])}, refs[1]))
    np.testing.assert_allclose(values["Sigma_01 at (0.5, -0.5)"][c, d], cov[0, 1], rtol=1e-5)
    np.testing.assert_allclose(values["Sigma_11 at (0, 0)"][c, d],
                               np.asarray(model.local_covariance(
                                   {"W": jnp.asarray(w[c, d])}, refs[0]))[1, 1],
                               rtol=1e-5)
    assert plot_trace(post, refs=refs).shape == (6, 2)
    with pytest.raises(ValueError, match="at most 12"):
        plot_trace(post, refs=np.linspace(-0.5, 0.5, 10).reshape(5, 2))
    with pytest.raises(ValueError, match="distinct"):
        trace_quantities(post, refs=np.zeros((2, 2)))


def test_trace_needs_draws_by_chain(mvp_model):
    with pytest.raises(TypeError, match="draws by chain"):
        plot_trace({"log_diag": np.zeros((10, 2))})
    with pytest.raises(TypeError, match="draws by chain"):
        trace_quantities(mvp_model)
