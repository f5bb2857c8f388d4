"""Noise models: psyphy's log_prob and sample_standard, against scipy; bad settings."""

import jax
import numpy as np
import pytest
from scipy import stats

import psyphy_numpyro as pn
from psyphy_numpyro.core.noise import GaussianNoise, StudentTNoise

X = np.linspace(-4, 4, 17)


def test_log_prob_is_the_density_psyphy_stubs():
    np.testing.assert_allclose(GaussianNoise(sigma=0.5).log_prob(X),
                               stats.norm(0, 0.5).logpdf(X), rtol=1e-5)
    np.testing.assert_allclose(StudentTNoise(df=4.0, scale=2.0).log_prob(X),
                               stats.t(4.0, 0, 2.0).logpdf(X), rtol=1e-5)


@pytest.mark.parametrize("noise, var", [(GaussianNoise(), 1.0), (StudentTNoise(df=5.0), 5 / 3)])
def test_sample_standard_has_unit_scale(noise, var):
    x = np.asarray(noise.sample_standard(jax.random.PRNGKey(0), (200_000,)))
    assert x.shape == (200_000,)
    assert abs(x.mean()) < 0.02 and abs(x.var() / var - 1) < 0.05


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: pn.GaussianNoise(sigma=0.0), ValueError, "sigma"),
        (lambda: pn.GaussianNoise(sigma="1"), TypeError, "sigma"),
    ],
)
def test_components_reject_non_positive_settings(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
