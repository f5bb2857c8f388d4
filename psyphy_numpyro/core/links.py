r"""From discriminability to the log-odds of a correct answer (MVP tasks).

Both MVP tasks map the discriminability :math:`d \ge 0` to p(correct) with a
``tanh``:

.. math::

    p_\text{oddity}(d) = \tfrac{1}{3} + \tfrac{2}{3}\cdot\tfrac{1}{2}
        \left(\tanh(s d) + 1\right), \qquad
    p_\text{2AFC}(d) = \tfrac{1}{2} + \tfrac{1}{2}\tanh(s d).

The oddity mapping is psyphy's MVP rule: at :math:`d = 0` it gives 2/3, not
the chance level 1/3. We keep it for parity and document the quirk.

We return log-odds rather than probabilities, computed so that neither
:math:`\log p` nor :math:`\log(1-p)` rounds to :math:`-\infty` when
:math:`\tanh` saturates: :math:`1 - \tanh z = 2\,\sigma(-2z)`.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_LOG_TWO_THIRDS = float(jnp.log(2.0 / 3.0))


def two_afc_logits(d: jnp.ndarray, slope: float) -> jnp.ndarray:
    """Log-odds of a correct 2AFC answer: ``0.5 + 0.5 tanh(slope d) = sigmoid(2 slope d)``."""
    return 2.0 * slope * d


def oddity_mvp_logits(d: jnp.ndarray, slope: float) -> jnp.ndarray:
    """Log-odds of a correct answer under psyphy's MVP oddity mapping.

    Parameters
    ----------
    d
        Discriminability, any shape.
    slope
        The ``tanh`` slope ``s``.

    Returns
    -------
    jnp.ndarray
        ``log p - log(1 - p)`` with ``p = 2/3 + tanh(s d) / 3``.
    """
    z = 2.0 * slope * d
    # 1 - p = (2/3) sigmoid(-z)  and  p = 1 - (2/3) sigmoid(-z)
    log_miss = _LOG_TWO_THIRDS + jax.nn.log_sigmoid(-z)
    log_hit = jnp.log1p(-jnp.exp(log_miss))
    return log_hit - log_miss


def two_afc_discriminability(p: jnp.ndarray, slope: float) -> jnp.ndarray:
    """The ``d`` at which the 2AFC mapping reaches ``p`` (inverse of the mapping)."""
    return jnp.arctanh(2.0 * p - 1.0) / slope


def oddity_mvp_discriminability(p: jnp.ndarray, slope: float) -> jnp.ndarray:
    """The ``d`` at which the MVP oddity mapping reaches ``p``, for ``p`` in [2/3, 1)."""
    return jnp.arctanh(3.0 * p - 2.0) / slope
