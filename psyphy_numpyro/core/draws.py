"""Parameter draws from any posterior, and p(correct) over a stack of draws.

:func:`posterior_draws` turns a posterior (or a stack of draws) into a model
and a params dict with a leading draw axis; the readouts and bands take it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.keys import default_draw_key
from psyphy_numpyro.core.readouts import is_stack


@partial(jax.jit, static_argnums=0)
def p_correct_draws(model: Any, draws: dict, ref, probe, mc_samples) -> jnp.ndarray:
    """p(correct) of every pair under every draw: shape ``(num_draws, n_test)``."""

    def one(params):
        return jax.nn.sigmoid(model.trial_logits(params, ref, probe, mc_samples))

    return jax.vmap(one)(draws)



#: Posterior draws used when a posterior (not a stack) is given.
DEFAULT_NUM_DRAWS = 200


# -- draws ----------------------------------------------------------------------------
def posterior_draws(
    posterior: Any,
    *,
    model: Any = None,
    num_draws: int | None = None,
    key: jax.Array | None = None,
) -> tuple[Any, dict]:
    """The model and a stack of parameter draws from a posterior or a stack.

    Parameters
    ----------
    posterior
        Anything with ``.model`` and ``.sample(n, *, key)``, or a params dict
        with a leading draw axis (then ``model`` is required).
    model
        The model of a stack; with a posterior it must be None or the
        posterior's own model.
    num_draws
        Posterior: draws to take (default :data:`DEFAULT_NUM_DRAWS`).
        Stack: evenly spaced draws to keep (default: all of them).
    key
        Key of ``posterior.sample``; default ``PRNGKey(0)``.

    Returns
    -------
    model, draws
        ``draws`` holds the model's sites (:attr:`WPPMSpec.param_sites`) with a
        leading axis of draws.
    """
    if num_draws is not None:
        num_draws = check.positive_int("num_draws", num_draws)
    if isinstance(posterior, dict):
        if model is None:
            raise ValueError(
                "a stack of parameter draws needs its model: pass model=, e.g. "
                "threshold_bands(nuts.samples, model=nuts.model, ref=refs)."
            )
        check.wppm(model)
        if not is_stack(model, posterior):
            raise ValueError(
                f"posterior must be a stack of draws: params[{model.prior.site!r}] "
                f"needs a leading draw axis, shape (num_draws, *{model.prior.shape}); "
                f"got {np.shape(posterior[model.prior.site])}."
            )
        missing = sorted(set(model.param_sites) - set(posterior))
        if missing:
            raise ValueError(f"posterior must hold the sites {list(model.param_sites)}, "
                             f"missing {missing}.")
        stack = {site: jnp.asarray(posterior[site]) for site in model.param_sites}
        total = stack[model.prior.site].shape[0]
        if num_draws is not None:
            if num_draws > total:
                raise ValueError(
                    f"num_draws={num_draws} exceeds the {total} draws in the stack."
                )
            keep = np.round(np.linspace(0, total - 1, num_draws)).astype(int)
            stack = {site: value[keep] for site, value in stack.items()}
        return model, stack
    if not (hasattr(posterior, "sample") and hasattr(posterior, "model")):
        raise TypeError(
            "posterior must have .model and .sample(n, *, key) (a NUTS, SVI, "
            "Laplace or MAP fit) or be a params dict of stacked draws; got "
            f"{type(posterior).__name__}."
        )
    if model is not None and model is not posterior.model:
        raise ValueError(
            "model= is only for a stack of draws; a posterior has its own."
        )
    model = check.wppm(posterior.model)
    key = default_draw_key(key)
    draws = posterior.sample(DEFAULT_NUM_DRAWS if num_draws is None else num_draws,
                             key=key)
    if not is_stack(model, draws):
        raise ValueError("posterior.sample(n) must return a stack of n draws.")
    return model, {site: jnp.asarray(draws[site]) for site in model.param_sites}
