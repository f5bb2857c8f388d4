r"""A population WPPM: S observers whose parameters share a population field.

Observer :math:`s`'s parameters (``W`` of the full WPPM, ``log_diag`` of the
MVP) are the population's plus a deviation, non-centred:

.. math::
    \theta_s = \theta_{pop} + \tau\, \sigma_{prior} \odot z_s, \qquad
    z_s \sim N(0, I), \quad \log \tau \sim N(\mu_\tau, s_\tau^2),

with :math:`\theta_{pop}` under the single-observer prior and
:math:`\sigma_{prior}` its standard deviations (so an observer's deviation
is smooth as the field is). :math:`\tau` is the learned population scale:
near 0 the observers are pooled, large they are independent. An inferred
lapse rate is one for the population.

:func:`population_model` is a plain NumPyro model over every observer's
trials concatenated, with an ``observer`` index per trial (no padding: each
trial is computed with its observer's parameters); sites ``<site>_pop``,
``<site>_dev`` (plate ``observer``), ``log_pop_scale`` and ``y`` (plate
``trial``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer.util import log_likelihood

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.numpyro_model import sample_lapse
from psyphy_numpyro.core.spec import WPPMSpec

__all__ = ["SCALE_SITE", "PopulationSpec", "observer_params", "population_groups",
           "population_log_likelihood", "population_model"]

#: Site of the population scale's logarithm.
SCALE_SITE = "log_pop_scale"


@dataclass(frozen=True)
class PopulationSpec:
    """A population of ``num_observers`` WPPMs of one ``spec`` (frozen, hashable).

    Parameters
    ----------
    spec
        Every observer's :class:`~psyphy_numpyro.core.spec.WPPMSpec`.
    num_observers
        S, at least 1.
    scale_loc, scale_sd
        Prior of :math:`\\log \\tau`: Normal(``scale_loc``, ``scale_sd``);
        by default centred on :math:`\\tau = 0.3` (observers' fields differ by
        30% of the prior's spread), within a factor of e at one sd.
    """

    spec: WPPMSpec
    num_observers: int
    scale_loc: float = math.log(0.3)
    scale_sd: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.spec, WPPMSpec):
            raise TypeError(f"spec must be a WPPMSpec, got {type(self.spec).__name__}.")
        check.positive_int("num_observers", self.num_observers)
        check.finite_array("scale_loc", self.scale_loc, ndim=0)
        check.positive("scale_sd", self.scale_sd)

    @property
    def site(self) -> str:
        """The observers' parameter site (``W`` or ``log_diag``)."""
        return self.spec.prior.site

    @property
    def sites(self) -> tuple[str, ...]:
        """The model's latent sites, in order."""
        lapse = self.spec.param_sites[1:]
        return (f"{self.site}_pop", f"{self.site}_dev", SCALE_SITE, *lapse)

    def init_params(self, key: jax.Array) -> dict:
        """A start: the population from the prior, no deviations, ``tau`` at its prior median."""
        single = self.spec.init_params(key)
        start = {f"{self.site}_pop": single.pop(self.site),
                 f"{self.site}_dev": jnp.zeros((self.num_observers, *self.spec.prior.shape)),
                 SCALE_SITE: jnp.asarray(self.scale_loc, jnp.float32)}
        return start | single


def observer_params(pop: PopulationSpec, params: dict) -> dict:
    """Every observer's parameters: ``{site: (..., S, *shape)}`` (and a shared lapse).

    ``params`` may carry leading draw axes before the observer axis.
    """
    site = pop.site
    scale = jnp.exp(jnp.asarray(params[SCALE_SITE]))
    dev = jnp.asarray(params[f"{site}_dev"])
    extra = (None,) * (dev.ndim - scale.ndim)
    value = (jnp.expand_dims(jnp.asarray(params[f"{site}_pop"]), -len(pop.spec.prior.shape) - 1)
             + scale[(..., *extra)] * pop.spec.prior.stddev() * dev)
    return {site: value} | {k: params[k] for k in pop.spec.param_sites[1:]}


def population_model(ref, probe, responses=None, *, pop: PopulationSpec, observer,
                     mc_samples=None) -> None:
    """NumPyro model of S observers' discrimination trials (see the module docstring).

    Parameters
    ----------
    ref, probe
        Every observer's stimuli, concatenated: shape ``(N, input_dim)``.
    responses
        Answers ``(N,)``; None to simulate.
    pop
        The :class:`PopulationSpec`.
    observer
        Integer ``(N,)``: whose trial each is, in ``[0, S)``.
    mc_samples
        Full WPPM with a Monte Carlo rule: fixed draws (leading axis N);
        otherwise drawn from ``numpyro.prng_key()``.
    """
    spec, prior, site = pop.spec, pop.spec.prior, pop.site
    value = numpyro.sample(f"{site}_pop", prior.distribution(),
                           infer={"event_dims": prior.event_dims})
    log_scale = numpyro.sample(SCALE_SITE, dist.Normal(pop.scale_loc, pop.scale_sd))
    with numpyro.plate("observer", pop.num_observers):
        dev = numpyro.sample(f"{site}_dev", dist.Normal(0.0, jnp.ones(prior.shape))
                             .to_event(len(prior.shape)), infer={"event_dims": prior.event_dims})
    params = observer_params(pop, {f"{site}_pop": value, f"{site}_dev": dev,
                                   SCALE_SITE: log_scale, **sample_lapse(spec)})
    if spec.needs_draws and mc_samples is None:
        key = numpyro.prng_key()
        if key is None:
            raise ValueError("the full WPPM needs Monte Carlo draws: run it under a seed or "
                             "pass mc_samples.")
        mc_samples = spec.draw_mc_samples(key, ref.shape[0])
    lapse = {k: params[k] for k in spec.param_sites[1:]}

    def one(theta, r, p, mc):  # one trial, with its observer's parameters
        mc = jax.tree.map(lambda x: x[None], mc)
        return spec.trial_logits({site: theta, **lapse}, r[None], p[None], mc_samples=mc)[0]

    logits = jax.vmap(one)(params[site][observer], ref, probe, mc_samples)
    with numpyro.plate("trial", ref.shape[0]):
        numpyro.sample("y", dist.Bernoulli(logits=logits), obs=responses)


@partial(jax.jit, static_argnums=0)
def population_log_likelihood(pop: PopulationSpec, draws: dict, ref, probe, responses,
                              observer, mc_samples=None) -> jax.Array:
    """Per-draw, per-trial log-likelihood ``(num_draws, N)`` of flat ``draws``."""
    model = partial(population_model, pop=pop)
    return log_likelihood(model, draws, ref, probe, responses, observer=observer,
                          mc_samples=mc_samples)["y"]


def population_groups(pop: PopulationSpec, draws: dict, ref, probe, responses, observer,
                      mc_samples=None) -> dict:
    """ArviZ groups of a population fit's draws by chain (``{site: (chain, draw, ...)}``).

    ``posterior``: ``<site>_pop``, the observers' ``<site>`` (dim ``observer``),
    ``pop_scale`` (tau) and an inferred lapse; ``unconstrained_posterior``:
    ``<site>_dev`` and ``log_pop_scale``; ``log_likelihood``: ``y`` over every
    trial, in float64 (a Laplace draw far in the tails can give a trial -650,
    whose exponent float32 loses in PSIS-LOO); ``observed_data`` and
    ``constant_data`` (with each trial's ``observer_index``). For
    :func:`~psyphy_numpyro.core.idata.build_inference_data` with
    ``coords={"observer": names}``.
    """
    site, event = pop.site, pop.spec.prior.event_dims
    chains, num = np.shape(draws[SCALE_SITE])[:2]
    flat = {k: np.asarray(v).reshape(chains * num, *np.shape(v)[2:]) for k, v in draws.items()}
    theta = np.asarray(observer_params(pop, draws)[site])
    loglik = population_log_likelihood(pop, flat, ref, probe, responses, observer, mc_samples)
    lapse = {k: (("chain", "draw"), np.asarray(draws[k])) for k in pop.spec.param_sites[1:]}
    return {
        "posterior": {f"{site}_pop": (("chain", "draw", *event), np.asarray(draws[f"{site}_pop"])),
                      site: (("chain", "draw", "observer", *event), theta),
                      "pop_scale": (("chain", "draw"), np.exp(np.asarray(draws[SCALE_SITE]))),
                      **lapse},
        "unconstrained_posterior": {
            f"{site}_dev": (("chain", "draw", "observer", *event),
                            np.asarray(draws[f"{site}_dev"])),
            SCALE_SITE: (("chain", "draw"), np.asarray(draws[SCALE_SITE]))},
        "log_likelihood": {"y": (("chain", "draw", "trial"),
                                 np.asarray(loglik, np.float64).reshape(chains, num, -1))},
        "observed_data": {"y": (("trial",), np.asarray(responses))},
        "constant_data": {"ref": (("trial", "dim"), np.asarray(ref)),
                          "probe": (("trial", "dim"), np.asarray(probe)),
                          "observer_index": (("trial",), np.asarray(observer))},
    }

