"""The model and arguments that make the full WPPM's density deterministic.

Laplace, SVI, MALA and NUTS all target ``model.numpyro_model`` on the trials.
For the full WPPM with its estimator unset they use the ``"quadrature"`` rule
where it applies (:func:`fixed_density_model`); with a Monte Carlo rule they
share one set of fixed draws, chosen here from the fit's seed.
"""

from __future__ import annotations

import copy
from typing import Any

from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.spec import as_spec
from psyphy_numpyro.core.trials import Trials


def fixed_density_model(model: Any) -> Any:
    """The model whose density the fitters that need a deterministic one use.

    ``model`` itself, or, for a full WPPM whose estimator is unset and to which
    the ``"quadrature"`` rule applies, a copy with ``estimator="quadrature"``
    (:meth:`~psyphy_numpyro.core.spec.WPPMSpec.fixed_density_spec`); a
    ``WPPMSpec`` gives a spec, a ``WPPM`` a ``WPPM``.
    """
    spec = as_spec(model)
    target = spec.fixed_density_spec()
    if target is spec:
        return model
    if model is spec:
        return target
    switched = copy.copy(model)
    switched.task = target.task  # the facade's task setter rebuilds its spec
    return switched


def estimator_note(model: Any, switched: bool) -> str:
    """How a fit of the full WPPM computes p(correct), for its progress output.

    ``switched``: :func:`fixed_density_model` chose the estimator.
    """
    note = f"p(correct) by {model.estimator!r}"
    if switched:
        note += (" (chosen for a deterministic density; "
                 'OddityTaskConfig(estimator="mc") keeps Monte Carlo)')
    return note


def fixed_density_kwargs(model: Any, trials: Trials, seed: int) -> dict:
    """Model arguments that make the density deterministic, as NUTS uses them.

    For the full WPPM with a Monte Carlo rule, fixed samples
    (``model.draw_mc_samples``) from ``fit_keys(seed).mc_samples``: the same
    for NUTS, MALA, Laplace and SVI at one seed; nothing for the MVP or a
    deterministic rule.
    """
    if model.is_mvp:
        return {}
    mc_samples = model.draw_mc_samples(fit_keys(seed).mc_samples, trials.ref.shape[0])
    return {} if mc_samples is None else {"mc_samples": mc_samples}


