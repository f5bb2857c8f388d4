"""Shared test set-up: CPU only, fixed seeds, the seed example as a fixture."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import contextlib
import logging
import warnings

with warnings.catch_warnings():  # arviz 0.23 announces its refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz  # noqa: F401

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.fixture(autouse=True)
def _reseed():
    np.random.seed(0)


@pytest.fixture(scope="session")
def mvp_model():
    """The seed's model: 2-D MVP, oddity task with slope 1.5."""
    return pn.WPPM(
        input_dim=2,
        prior=pn.Prior.default(2, scale=0.5),
        task=pn.OddityTask(slope=1.5),
        noise=pn.GaussianNoise(sigma=1.0),
    )


@pytest.fixture(scope="session")
def seed_truth():
    return {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}


@pytest.fixture(scope="session")
def seed_data(mvp_model, seed_truth):
    """400 trials around (0, 0), as in the seed example."""
    return pn.simulate_trials(jax.random.PRNGKey(0), mvp_model, seed_truth, 400)


class _Compilations(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.names.append(message.split(" with ")[0])


@pytest.fixture
def no_compilation():
    """A context manager that fails if JAX compiles anything inside it.

    Bad input must be refused in Python, before any tracing or compilation.
    """

    @contextlib.contextmanager
    def guard():
        handler = _Compilations()
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        try:
            with jax.log_compiles(True):
                yield
        finally:
            logger.removeHandler(handler)
        assert not handler.names, f"compiled before refusing: {handler.names}"

    return guard

