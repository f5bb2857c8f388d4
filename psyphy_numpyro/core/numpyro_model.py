r"""The WPPM as a NumPyro program over a :class:`~psyphy_numpyro.core.spec.WPPMSpec`.

:func:`wppm_model` is a plain NumPyro model: a Gaussian prior on the
parameters (site ``log_diag`` for the MVP, ``W`` for the full WPPM) and a
Bernoulli likelihood over a plate named ``trial`` (site ``y``); a task whose
lapse rate is inferred adds the scalar site ``lapse_rate`` (its Beta prior,
:mod:`~psyphy_numpyro.core.lapse`). Any NumPyro
inference runs on it: ``Predictive``, ``SVI`` with any guide, ``MCMC``.

- MVP: :math:`\Sigma = \operatorname{diag}(e^{\text{log\_diag}})` everywhere;
  the discriminability :math:`d = \sqrt{\delta^T(\Sigma + \epsilon I)^{-1}
  \delta}` of probe - ref is mapped to p(correct) by the task's ``tanh`` rule.
- Full WPPM: :math:`\Sigma(x) = U(x) U(x)^T + \epsilon I` with
  :math:`U(x) = \sum_{ij} W_{ij} \phi_{ij}(x)` over a Chebyshev basis, and
  p(correct) from the Monte Carlo oddity rule. Its standard draws come from
  the ``mc_samples`` argument when given (fixed draws: a deterministic density, as
  NUTS needs) and otherwise from ``numpyro.prng_key()`` (fresh draws each
  SVI step).

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpyro
import numpyro.distributions as dist

from psyphy_numpyro.core.compiled import always_compiled
from psyphy_numpyro.core.lapse import LAPSE_SITE

if TYPE_CHECKING:
    from psyphy_numpyro.core.spec import Params, WPPMSpec

__all__ = ["observe_trials", "sample_lapse", "wppm_model"]


def wppm_model(ref, probe, responses=None, *, spec: WPPMSpec, mc_samples=None,
               mask=None) -> None:
    """NumPyro model of a discrimination experiment.

    Parameters
    ----------
    ref, probe
        Reference and comparison stimuli, shape ``(N, input_dim)``.
    responses
        Observed answers (1 correct, 0 wrong), shape ``(N,)``; ``None`` to
        simulate them.
    spec
        The model's :class:`~psyphy_numpyro.core.spec.WPPMSpec` (``model.spec``).
    mc_samples
        Full WPPM only: fixed Monte Carlo samples (:meth:`WPPMSpec.draw_mc_samples`); when
        None they are drawn from ``numpyro.prng_key()``.
    mask
        Optional boolean ``(N,)``: trials where it is False add nothing to the
        log density (the padding of :func:`~psyphy_numpyro.core.infer.
        map_many.fit_map_many`'s batches).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from numpyro.infer import Predictive
    >>> from psyphy_numpyro import WPPM, OddityTask, Prior
    >>> wppm = WPPM(input_dim=2, prior=Prior.default(2), task=OddityTask())
    >>> ref = jnp.zeros((5, 2)); probe = ref + 0.1
    >>> draws = Predictive(wppm.numpyro_model, num_samples=3)(
    ...     jax.random.PRNGKey(0), ref, probe)
    >>> draws["log_diag"].shape, draws["y"].shape
    ((3, 2), (3, 5))
    """
    prior = spec.prior
    value = numpyro.sample(
        prior.site, prior.distribution(), infer={"event_dims": prior.event_dims}
    )
    params = {prior.site: value, **sample_lapse(spec)}
    observe_trials(spec, params, ref, probe, responses, mc_samples, mask)


def sample_lapse(spec: WPPMSpec) -> dict:
    """``{"lapse_rate": value}`` from its Beta prior if the task infers it, else ``{}``.

    Shared by every NumPyro model of the WPPM, before :func:`observe_trials`.
    """
    if not spec.infers_lapse:
        return {}
    return {LAPSE_SITE: numpyro.sample(LAPSE_SITE, spec.task.lapse.distribution())}


def observe_trials(spec: WPPMSpec, params: Params, ref, probe, responses=None,
                   mc_samples=None, mask=None) -> None:
    """The likelihood part of :func:`wppm_model`: site ``y`` over plate ``trial``.

    Shared by every NumPyro model of the WPPM (see
    :func:`psyphy_numpyro.core.gauge.gauge_fixed_model`).
    """
    if spec.needs_draws and mc_samples is None:
        key = numpyro.prng_key()
        if key is None:
            raise ValueError(
                "the full WPPM needs Monte Carlo draws: run it under a seed "
                "(SVI, Predictive) or pass mc_samples=model.draw_mc_samples(key, N) (NUTS)."
            )
        mc_samples = spec.draw_mc_samples(key, ref.shape[0])
    logits = _trial_logits(spec, params, ref, probe, mc_samples)
    answers = dist.Bernoulli(logits=logits)
    with numpyro.plate("trial", ref.shape[0]):
        numpyro.sample("y", answers if mask is None else answers.mask(mask), obs=responses)


@always_compiled(static_argnums=0)
def _trial_logits(spec: WPPMSpec, params: Params, ref, probe, mc_samples):
    """``spec.trial_logits``, compiled per spec and shapes (:func:`always_compiled`).

    Eager, the full WPPM's hundreds of primitives would each compile on their
    own: about 25 s at the start of a full-WPPM NUTS run on CPU.
    """
    return spec.trial_logits(params, ref, probe, mc_samples=mc_samples)
