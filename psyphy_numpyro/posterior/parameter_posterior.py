"""The posterior protocol every fit satisfies, and what approximate ones share.

:class:`ParameterPosterior` is psyphy's protocol (``params``, ``model``,
``sample(n, *, key)``); MAP, NUTS, Laplace, SVI and Langevin posteriors all
satisfy it. The Laplace approximation (:mod:`psyphy_numpyro.inference.laplace`), SVI
(:mod:`psyphy_numpyro.inference.svi`) and the Langevin sampler
(:mod:`psyphy_numpyro.inference.langevin`) target the same log density as
:class:`~psyphy_numpyro.NUTSSampler`: ``model.numpyro_model`` on the trials,
for the full WPPM with fixed Monte Carlo draws (``model.draw_mc_samples(key, N)``)
so that the density is deterministic. Their posteriors all have ``params``
(a point estimate), ``model``, ``trials``, ``sample(n, *, key)`` (a params
dict with leading axis ``n``) and ``to_inference_data()``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax


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
