r"""Lapses: answers given at chance, whatever the stimulus.

An observer who lapses on a fraction :math:`\lambda` of trials and guesses
there answers correctly with probability

.. math::

    p = \lambda\, c + (1 - \lambda)\, p_\text{model},

where :math:`c` is the task's chance level (1/3 for the oddity task, 1/2
for 2AFC) and :math:`p_\text{model}` the model's p(correct). A task's
``lapse`` sets :math:`\lambda`: ``None`` (no lapses, the default), a number
in [0, 1) (fixed), or :class:`LapsePrior` (inferred, NumPyro site
``"lapse_rate"`` with a Beta prior). This module is the formula's one home.

Reference: Wichmann, F. A. & Hill, N. J. (2001). The psychometric function:
I. Fitting, sampling, and goodness of fit. Perception & Psychophysics 63,
1293–1313.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

from psyphy_numpyro.core import checks as check

__all__ = ["LAPSE_SITE", "LapsePrior", "apply_lapse", "check_lapse", "constrain_lapse",
           "lapse_chain_starts", "lapse_logits", "unconstrain_lapse",
           "unconstrained_lapse_log_prior"]

#: Name of the inferred lapse rate's NumPyro site and params key.
LAPSE_SITE = "lapse_rate"


@dataclass(frozen=True)
class LapsePrior:
    """An inferred lapse rate with a ``Beta(a, b)`` prior (site ``"lapse_rate"``).

    Parameters
    ----------
    a, b
        Positive Beta concentrations; the prior mean is ``a / (a + b)``
        (e.g. ``LapsePrior(1, 19)``: mean 0.05).

    Examples
    --------
    >>> LapsePrior(1.0, 19.0).mean
    0.05
    """

    a: float
    b: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "a", check.positive("a", self.a))
        object.__setattr__(self, "b", check.positive("b", self.b))

    @property
    def mean(self) -> float:
        """Prior mean of the lapse rate, ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    def distribution(self) -> dist.Distribution:
        """The prior as a NumPyro ``Beta`` distribution."""
        return dist.Beta(self.a, self.b)


def check_lapse(lapse: Any) -> float | LapsePrior | None:
    """``lapse`` checked: None, a number in [0, 1), or a :class:`LapsePrior`."""
    if lapse is None or isinstance(lapse, LapsePrior):
        return lapse
    if isinstance(lapse, bool) or not isinstance(lapse, Real):
        raise TypeError(
            "lapse must be None (no lapses), a number in [0, 1) (a fixed rate) or "
            f"LapsePrior(a, b) (inferred), got {type(lapse).__name__}."
        )
    return check.unit_interval("lapse", lapse)


def apply_lapse(p: jnp.ndarray, lapse: Any, chance: float) -> jnp.ndarray:
    """p(correct) of a lapsing observer: ``lapse * chance + (1 - lapse) * p``."""
    return lapse * chance + (1.0 - lapse) * p


def lapse_logits(logits: jnp.ndarray, lapse: Any, chance: float) -> jnp.ndarray:
    """Log-odds of :func:`apply_lapse` of ``sigmoid(logits)``, computed in logs.

    Neither ``log p`` nor ``log(1 - p)`` rounds to ``-inf`` when the model's
    p(correct) saturates, so the log-likelihood stays finite at any logits.
    """
    log_lapse, log_keep = jnp.log(lapse), jnp.log1p(-lapse)
    log_hit = jnp.logaddexp(log_lapse + jnp.log(chance),
                            log_keep + jax.nn.log_sigmoid(logits))
    log_miss = jnp.logaddexp(log_lapse + jnp.log1p(-chance),
                             log_keep + jax.nn.log_sigmoid(-logits))
    return log_hit - log_miss


def lapse_chain_starts(spec: Any, init_params: dict | None, num_chains: int) -> dict:
    """Per-chain unconstrained starts of an inferred lapse rate, else ``{}``.

    For samplers given every site's start in NumPyro's unconstrained space
    (``MCMC.run(init_params=...)``): the rate in ``init_params`` or the prior
    mean, as its logit, repeated ``num_chains`` times.
    """
    if not getattr(spec, "infers_lapse", False):  # None: no model, no lapse
        return {}
    rate = (init_params or {}).get(LAPSE_SITE, spec.task.lapse.mean)
    value = _to_unit().inv(jnp.asarray(rate, jnp.float32))
    return {LAPSE_SITE: jnp.broadcast_to(value, (num_chains,))}


def _to_unit() -> Any:
    """NumPyro's map from the real line to a Beta's support (the sigmoid)."""
    return biject_to(constraints.unit_interval)


def unconstrain_lapse(spec: Any, params: dict) -> dict:
    """``params`` with an inferred lapse rate replaced by its logit (NumPyro's space)."""
    if not getattr(spec, "infers_lapse", False):  # None: no model, no lapse
        return dict(params)
    return {**params, LAPSE_SITE: _to_unit().inv(params[LAPSE_SITE])}


def constrain_lapse(spec: Any, params: dict) -> dict:
    """Inverse of :func:`unconstrain_lapse` (works on stacks of draws)."""
    if not getattr(spec, "infers_lapse", False):  # None: no model, no lapse
        return dict(params)
    return {**params, LAPSE_SITE: _to_unit()(params[LAPSE_SITE])}


def unconstrained_lapse_log_prior(spec: Any, params: dict) -> jnp.ndarray:
    """Log prior density of an inferred lapse rate at its logit (Jacobian included); 0 if none."""
    if not getattr(spec, "infers_lapse", False):  # None: no model, no lapse
        return jnp.zeros(())
    u = params[LAPSE_SITE]
    rate = _to_unit()(u)
    return (spec.task.lapse.distribution().log_prob(rate)
            + _to_unit().log_abs_det_jacobian(u, rate))
