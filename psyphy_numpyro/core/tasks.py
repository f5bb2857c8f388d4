"""Psychophysical tasks: how discriminability becomes p(correct).

A task is a small frozen configuration object; the maths lives in
:mod:`psyphy_numpyro.core.links`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core import links as likelihood
from psyphy_numpyro.core.keys import default_mc_key
from psyphy_numpyro.core.lapse import LapsePrior, check_lapse
from psyphy_numpyro.core.oddity.psyphy_draws import PROB_CLIP

ESTIMATORS = ("mc", "quadrature", "psyphy")
"""Ways to compute the full WPPM's p(correct) (see :class:`OddityTaskConfig`);
``None`` leaves the choice to each use."""


class _TanhLink:
    """The MVP tasks' methods over their ``tanh`` link (:mod:`.links`).

    A task sets ``_links = (logits, discriminability)``, ``slope`` and ``floor``,
    the p(correct) at zero discriminability.
    """

    def logits(self, d: jnp.ndarray) -> jnp.ndarray:
        """Log-odds of a correct answer at discriminability ``d``."""
        return self._links[0](d, self.slope)

    def discriminability(self, p: jnp.ndarray) -> jnp.ndarray:
        """Discriminability at which p(correct) equals ``p`` (in [floor, 1))."""
        return self._links[1](p, self.slope)

    @property
    def default_criterion(self) -> float:
        """Half-way from the link's floor to 1: 5/6 for the oddity task, 0.75 for 2AFC."""
        return 0.5 * (self.floor + 1.0)


@dataclass(frozen=True)
class OddityTaskConfig:
    """Monte Carlo settings of the full WPPM's oddity rule.

    Parameters
    ----------
    num_samples
        Monte Carlo samples per trial.
    bandwidth
        Logistic smoothing of the decision variable.
    default_key_seed
        Seed used by :meth:`WPPM.predict_prob` when no key is given.
    estimator
        How p(correct) is computed (all give the same model):

        - ``None`` (default): chosen by use. Fits by SGD (``MAPOptimizer``),
          predictions and simulation use ``"mc"``, as psyphy does; the fitters
          that need a deterministic density (``NUTSSampler``,
          ``LangevinSampler``, ``LaplaceApproximation``, ``SVIApproximation``)
          use ``"quadrature"`` where it applies (input_dim 2 or 3, Gaussian noise,
          ``bandwidth`` <= 0.1) and ``"mc"`` with fixed draws elsewhere. Their
          posterior's ``model`` says which one it used.
        - ``"mc"``: plain Monte Carlo with ``num_samples`` draws per trial.
          With Gaussian noise it runs in the reduced form of
          :mod:`psyphy_numpyro.core.oddity.gaussian_mc` (the same estimator as
          psyphy's, many times faster); with Student-t noise it uses psyphy's
          draws. Chosen explicitly, the samplers keep it and warn about the cost.
        - ``"quadrature"``: a deterministic, smooth rule
          (:mod:`psyphy_numpyro.core.oddity.quadrature`; Gaussian noise, input_dim
          2 or 3), more accurate with 144 nodes (2,592 in 3-D) than ``"mc"``
          with 2,000 samples. Best for NUTS and Laplace.
        - ``"psyphy"``: psyphy 0.0.5's own draws (``3 (e + d)`` per sample,
          its key layout), so the same key gives psyphy's numbers exactly.
    quadrature
        Nodes of the quadrature rule: ``(num_angles, num_radii, num_chords)``
        (see :func:`~psyphy_numpyro.core.oddity.quadrature.quadrature_rule`).
    clip
        p(correct) is clipped to ``[clip, 1 - clip]``, in [0, 0.5): psyphy's
        1e-6 by default; Hong et al. clipped to 0.001.
    """

    num_samples: int = 1000
    bandwidth: float = 1e-2
    default_key_seed: int = 0
    estimator: str | None = None
    quadrature: tuple[int, int, int] = (6, 4, 6)
    clip: float = PROB_CLIP

    def __post_init__(self) -> None:
        check.positive_int("num_samples", self.num_samples)
        check.positive("bandwidth", self.bandwidth)
        if self.estimator is not None and self.estimator not in ESTIMATORS:
            raise ValueError(
                f"estimator must be one of {ESTIMATORS} or None, got {self.estimator!r}."
            )
        nodes = tuple(self.quadrature) if isinstance(self.quadrature, (tuple, list)) else ()
        if len(nodes) != 3:
            raise ValueError(
                "quadrature must be 3 positive integers (num_angles, num_radii, "
                f"num_chords), got {self.quadrature!r}."
            )
        for n in nodes:
            check.positive_int("quadrature", n)
        object.__setattr__(self, "quadrature", tuple(int(n) for n in nodes))
        if check.non_negative("clip", self.clip) >= 0.5:
            raise ValueError(f"clip must lie in [0, 0.5), got {self.clip!r}.")


@dataclass(frozen=True)
class OddityTask:
    """Three-alternative oddity task.

    The MVP model maps discriminability to p(correct) with psyphy's ``tanh``
    rule (``slope``); it starts at 2/3, not chance, at zero discriminability
    (see the docs). The full WPPM uses the Monte Carlo rule of
    :mod:`psyphy_numpyro.core.oddity.psyphy_draws` with the settings in ``config``, which starts
    at chance, 1/3. ``OddityTask(OddityTaskConfig(...))`` (psyphy 0.0.5's
    positional form) is accepted.

    Parameters
    ----------
    slope
        Slope of the MVP ``tanh`` mapping.
    config
        Monte Carlo settings for the full WPPM.
    lapse
        Lapse rate :math:`\\lambda` of the observer, for the MVP and the full
        WPPM: ``None`` (no lapses, the default), a fixed number in [0, 1), or
        :class:`~psyphy_numpyro.core.lapse.LapsePrior` to infer it. The
        answers' p(correct) is ``lapse * chance + (1 - lapse) * p`` (see
        :mod:`psyphy_numpyro.core.lapse`).
    """

    slope: float = 1.5
    config: OddityTaskConfig = OddityTaskConfig()
    lapse: float | LapsePrior | None = None

    #: p(correct) of the MVP mapping at zero discriminability.
    floor: ClassVar[float] = 2.0 / 3.0
    #: p(correct) of the Monte Carlo rule at zero difference (chance).
    chance: ClassVar[float] = 1.0 / 3.0

    def __post_init__(self) -> None:
        if isinstance(self.slope, OddityTaskConfig):  # OddityTask(config)
            object.__setattr__(self, "config", self.slope)
            object.__setattr__(self, "slope", 1.5)
        check.positive("slope", self.slope)
        if not isinstance(self.config, OddityTaskConfig):
            raise TypeError(
                f"config must be an OddityTaskConfig, got {type(self.config).__name__}."
            )
        object.__setattr__(self, "lapse", check_lapse(self.lapse))

    _links = (likelihood.oddity_mvp_logits, likelihood.oddity_mvp_discriminability)
    logits = _TanhLink.logits
    discriminability = _TanhLink.discriminability
    default_criterion = _TanhLink.default_criterion

    # -- psyphy 0.0.5's task interface (predict, simulate, loglik) -----------------
    # The maths stays in the model (``WPPM.p_correct``, ``WPPM.trial_logits``,
    # ``WPPM.draw_mc_samples``, ``WPPM.log_likelihood_from_data``); these methods only
    # arrange psyphy's arguments and keys for it.
    @staticmethod
    def _predict_fn(model, params, ref, probe, key, num_trials):
        """p(correct); Monte Carlo draws from ``key``, one set per trial if counted."""
        import jax

        if model.is_mvp:
            return jax.nn.sigmoid(model.trial_logits(params, ref, probe))
        p = model.p_correct(params, ref, probe, model.draw_mc_samples(key, num_trials))
        return model.with_lapse(params, p)

    @staticmethod
    def _simulate_fn(model, params, ref, probe, key):
        import jax

        key_mc, key_answer = jax.random.split(key)  # psyphy's split
        p = OddityTask._predict_fn(model, params, ref, probe, key_mc, ref.shape[0])
        return jax.random.bernoulli(key_answer, p).astype(jnp.int32), p

    def _checked(self, model, stimuli, batch: bool):
        """Check the model and ``(..., 2, input_dim)`` stimuli; return ref, probe."""
        import jax

        if not all(hasattr(model, a) for a in ("task", "trial_logits", "draw_mc_samples")):
            raise TypeError(
                f"model must be a psyphy_numpyro.WPPM, got {type(model).__name__}."
            )
        if model.task != self:
            raise ValueError(
                f"this task ({self!r}) differs from the model's ({model.task!r}); "
                "call model.task's method so that the Monte Carlo settings agree."
            )
        d = model.input_dim
        if not isinstance(stimuli, jax.core.Tracer):
            stimuli = jnp.asarray(check.finite_array("stimuli", stimuli))
        want = f"(n_trials, 2, {d})" if batch else f"(2, {d}) for one trial"
        if (stimuli.ndim != (3 if batch else 2)) or stimuli.shape[-2:] != (2, d):
            raise ValueError(
                f"stimuli must have shape {want} (reference, comparison), got "
                f"{tuple(stimuli.shape)}."
            )
        ref, probe = stimuli[..., 0, :], stimuli[..., 1, :]
        if not isinstance(stimuli, jax.core.Tracer):
            if not batch and not model.is_mvp:
                # one trial is a point evaluation: out of the domain raises, as in psyphy
                from psyphy_numpyro.core.spec import as_spec  # the spec imports tasks

                as_spec(model).in_domain("stimuli", stimuli)
            model.check_stimuli(ref.reshape(-1, d), probe.reshape(-1, d))
        return ref, probe

    def predict(self, params, stimuli, model, *, key=None):
        """p(correct) of one trial, as psyphy 0.0.5's 1-tuple ``(p_correct,)``.

        Parameters
        ----------
        params
            Model parameters.
        stimuli
            ``(2, input_dim)``: the reference and the comparison.
        model
            The :class:`~psyphy_numpyro.WPPM` whose task this is.
        key
            Key of the full WPPM's Monte Carlo draws (``model.draw_mc_samples``; the
            MVP ignores it); default ``PRNGKey(config.default_key_seed)``. Where
            the model draws as psyphy does, the same key gives psyphy's value.

        Returns
        -------
        tuple
            ``(p_correct,)``, a scalar array.
        """
        import jax

        ref, probe = self._checked(model, stimuli, batch=False)
        key = default_mc_key(model, key)
        predict = jax.jit(self._predict_fn, static_argnums=(0, 5))
        return (predict(model, params, ref, probe, key, None),)

    def simulate(self, params, stimuli, model, *, key):
        """Simulated answers for a batch of trials (psyphy 0.0.5's layout).

        ``key`` is split into a Monte Carlo key (independent draws per trial,
        as :meth:`loglik` uses) and a key for the Bernoulli answers, as psyphy
        splits it; where the model draws as psyphy does, the same key gives
        psyphy's answers.

        Parameters
        ----------
        params
            Model parameters.
        stimuli
            ``(n_trials, 2, input_dim)``.
        model
            The :class:`~psyphy_numpyro.WPPM` whose task this is.
        key
            PRNG key (required).

        Returns
        -------
        responses : jnp.ndarray
            int32 answers (1 correct, 0 wrong), shape ``(n_trials,)``.
        (p_correct,) : tuple
            p(correct) of each trial, shape ``(n_trials,)``.
        """
        import jax

        if key is None:
            raise TypeError(
                "simulate needs a PRNG key: pass key=jax.random.PRNGKey(...)."
            )
        ref, probe = self._checked(model, stimuli, batch=True)
        simulate = jax.jit(self._simulate_fn, static_argnums=0)
        responses, p = simulate(model, params, ref, probe, key)
        return responses, (p,)

    def loglik(self, params, data, model, *, key=None):
        """Total Bernoulli log-likelihood of ``data`` (a scalar), as psyphy 0.0.5.

        The same as ``model.log_likelihood_from_data(params, data, key=key)``:
        independent Monte Carlo draws per trial from ``key`` (default
        ``PRNGKey(0)``, psyphy's fallback).

        Parameters
        ----------
        params
            Model parameters.
        data
            Trials: :class:`~psyphy_numpyro.TrialData`, ``ResponseData``,
            psyphy's versions, or ``(ref, probe, responses)``.
        model
            The :class:`~psyphy_numpyro.WPPM` whose task this is.
        key
            Key of the Monte Carlo draws (full WPPM).
        """
        if not hasattr(model, "log_likelihood_from_data"):
            raise TypeError(
                f"model must be a psyphy_numpyro.WPPM, got {type(model).__name__}."
            )
        if model.task != self:
            raise ValueError(
                f"this task ({self!r}) differs from the model's ({model.task!r}); "
                "call model.task.loglik so that the Monte Carlo settings agree."
            )
        return model.log_likelihood_from_data(params, data, key=key)


@dataclass(frozen=True)
class TwoAFC:
    """Two-alternative forced choice, ``p = 0.5 + 0.5 tanh(slope d)``.

    Parameters
    ----------
    slope
        Slope of the ``tanh`` mapping.
    lapse
        Lapse rate, as :class:`OddityTask`'s (chance is 1/2).
    """

    slope: float = 2.0
    lapse: float | LapsePrior | None = None

    #: p(correct) at zero discriminability (chance).
    floor: ClassVar[float] = 0.5
    #: p(correct) of a guess.
    chance: ClassVar[float] = 0.5

    def __post_init__(self) -> None:
        check.positive("slope", self.slope)
        object.__setattr__(self, "lapse", check_lapse(self.lapse))

    _links = (likelihood.two_afc_logits, likelihood.two_afc_discriminability)
    logits = _TanhLink.logits
    discriminability = _TanhLink.discriminability
    default_criterion = _TanhLink.default_criterion
