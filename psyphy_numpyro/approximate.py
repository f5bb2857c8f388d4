"""The posterior protocol every fit satisfies, and what approximate ones share.

:class:`ParameterPosterior` is psyphy's protocol (``params``, ``model``,
``sample(n, *, key)``); MAP, NUTS, Laplace, SVI and Langevin posteriors all
satisfy it. The Laplace approximation (:mod:`psyphy_numpyro.laplace`), SVI
(:mod:`psyphy_numpyro.svi`) and the Langevin sampler
(:mod:`psyphy_numpyro.langevin`) target the same log density as
:class:`~psyphy_numpyro.NUTSSampler`: ``model.numpyro_model`` on the trials,
for the full WPPM with fixed Monte Carlo draws (``model.draw_noise(key, N)``)
so that the density is deterministic. Their posteriors all have ``params``
(a point estimate), ``model``, ``trials``, ``sample(n, *, key)`` (a params
dict with leading axis ``n``) and ``to_inference_data()``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

from . import _validation as check
from .convert import draws_to_inference_data
from .data import Trials

__all__ = ["ParameterPosterior"]


@runtime_checkable
class ParameterPosterior(Protocol):
    """A posterior over a WPPM's parameters (psyphy's protocol).

    ``isinstance(fit, ParameterPosterior)`` holds for every posterior this
    package returns (MAP, NUTS, Laplace, SVI, Langevin), so readouts and
    predictive summaries accept any of them. All but the MAP also convert
    to ArviZ with ``to_inference_data()``.

    Attributes
    ----------
    params
        A point estimate, per site (MAP, posterior mean, or guide median).
    model
        The :class:`~psyphy_numpyro.WPPM` it belongs to.
    """

    @property
    def params(self) -> dict: ...

    @property
    def model(self) -> Any: ...

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets: a params dict with leading axis ``n``."""
        ...


def _fixed_density_kwargs(model: Any, trials: Trials, seed: int) -> dict:
    """Model arguments that make the density deterministic, as NUTS uses them.

    For the full WPPM with a Monte Carlo rule, fixed draws
    (``model.draw_noise``) from the second half of ``PRNGKey(seed)`` split in
    two, the key :class:`~psyphy_numpyro.NUTSSampler` uses for the same
    ``seed``; nothing for the MVP or a deterministic rule.
    """
    if model.is_mvp:
        return {}
    _, key_noise = jax.random.split(jax.random.PRNGKey(seed))
    noise = model.draw_noise(key_noise, trials.ref.shape[0])
    return {} if noise is None else {"noise": noise}


def _check_model(model: Any, name: str = "model") -> Any:
    if not hasattr(model, "numpyro_model") or not hasattr(model, "prior"):
        raise TypeError(
            f"{name} must be a psyphy_numpyro.WPPM, got {type(model).__name__}; "
            "build the model with psyphy_numpyro's classes."
        )
    return model


class _DrawsPosterior:
    """Shared protocol: ``params``, ``model``, ``trials``, ``sample``, ArviZ."""

    inference = ""
    params: dict
    model: Any
    trials: Trials
    model_kwargs: dict

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:  # pragma: no cover
        raise NotImplementedError

    def to_inference_data(
        self, num_draws: int = 1000, *, seed: int = 0, posterior_predictive: bool = True
    ):
        """Draw ``num_draws`` parameter sets and convert them to ArviZ.

        The draws form one chain (``chain`` of size 1, ``draw`` of size
        ``num_draws``); ``log_likelihood`` is per trial. See
        :func:`psyphy_numpyro.convert.draws_to_inference_data`.
        """
        num_draws = check.positive_int("num_draws", num_draws)
        key_draws, key_pp = jax.random.split(jax.random.PRNGKey(seed))
        draws = self.sample(num_draws, key=key_draws)
        return draws_to_inference_data(
            {k: np.asarray(v)[None] for k, v in draws.items()},
            self.model,
            self.trials,
            posterior_predictive=posterior_predictive,
            rng_key=key_pp,
            model_kwargs=self.model_kwargs,
            attrs={"inference": self.inference},
        )
