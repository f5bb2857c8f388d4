"""The arrays the fitters take: :class:`Trials`, and psyphy's ``TrialData``.

:func:`as_trials` turns any supported container (``Trials``, ``TrialData``,
``ResponseData``, a ``(ref, probe, responses)`` tuple) into validated
:class:`Trials` of float32 stimuli and binary answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from psyphy_numpyro.core import checks as check


class Trials(NamedTuple):
    """Validated arrays for a model: ``ref``, ``probe`` (N, d); ``responses`` (N,)."""

    ref: np.ndarray
    probe: np.ndarray
    responses: np.ndarray


@dataclass(frozen=True)
class TrialData:
    """An immutable batch of trials.

    Parameters
    ----------
    stimuli
        Shape ``(N, K, d)``: ``K = 2`` stimuli (reference, comparison) per trial
        for the built-in tasks. Stored as float64.
    responses
        Shape ``(N,)`` or ``(N, R)``: for the built-in tasks ``R = 1``, with 1 for
        a correct answer and 0 for a wrong one. Stored as ``(N, R)``.
    context
        Optional per-trial covariates, first dimension ``N`` (psyphy's
        ``context``; no built-in model uses it).
    stimulus_names
        Optional names of the ``K`` stimulus slots, e.g. ``("ref", "probe")``,
        for :meth:`stimulus`.
    """

    stimuli: Any
    responses: Any
    context: Any = None
    stimulus_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        stimuli = np.asarray(self.stimuli, dtype=float)
        responses = np.asarray(self.responses)
        if stimuli.ndim != 3:
            raise ValueError(
                "stimuli must be 3D, shape (N, K, d): K stimuli of dimension d per "
                f"trial; got shape {stimuli.shape}."
            )
        if responses.ndim == 1:
            responses = responses[:, None]
        if responses.ndim != 2:
            raise ValueError(
                "responses must be 2D, shape (N, R), or 1D, shape (N,); got shape "
                f"{np.shape(self.responses)}."
            )
        if responses.shape[0] != stimuli.shape[0]:
            raise ValueError(
                f"responses must have one row per trial, N = {stimuli.shape[0]}, "
                f"got shape {np.shape(self.responses)}."
            )
        context = self.context
        if context is not None:
            context = np.asarray(context)
            if context.ndim == 0 or context.shape[0] != stimuli.shape[0]:
                raise ValueError(
                    f"context must have first dimension N = {stimuli.shape[0]}, "
                    f"got shape {context.shape}."
                )
        names = tuple(self.stimulus_names)
        if names and len(names) != stimuli.shape[1]:
            raise ValueError(
                f"stimulus_names must name all K = {stimuli.shape[1]} stimuli, "
                f"got {names}."
            )
        object.__setattr__(self, "stimuli", stimuli)
        object.__setattr__(self, "responses", responses)
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "stimulus_names", names)

    @property
    def num_trials(self) -> int:
        """Number of trials ``N``."""
        return int(self.stimuli.shape[0])

    def __len__(self) -> int:
        return self.num_trials

    def stimulus(self, name: str) -> np.ndarray:
        """Return ``stimuli[:, k]`` for the slot called ``name``, shape ``(N, d)``."""
        if not self.stimulus_names:
            raise ValueError(
                "stimulus_names is empty; pass e.g. stimulus_names=('ref', 'probe') "
                "when building the TrialData to use named access."
            )
        if name not in self.stimulus_names:
            raise ValueError(
                f"unknown stimulus name {name!r}; available: {self.stimulus_names}."
            )
        return self.stimuli[:, self.stimulus_names.index(name)]


def as_trials(data: Any, input_dim: int) -> Trials:
    """Validate any supported data object and return :class:`Trials`.

    Parameters
    ----------
    data
        A :class:`TrialData`, :class:`ResponseData`, psyphy's versions of
        either, or a tuple ``(ref, probe, responses)``.
    input_dim
        The model's stimulus dimension.

    Returns
    -------
    Trials
        Float ``ref``/``probe`` of shape (N, input_dim) and int32 responses.
    """
    if isinstance(data, tuple) and len(data) == 3:
        ref, probe, responses = data
    else:
        stimuli, responses = _stimuli_and_responses(data)
        stimuli = check.finite_array("stimuli", stimuli)
        if stimuli.ndim != 3 or stimuli.shape[1] != 2:
            raise ValueError(
                "stimuli must have shape (N, 2, d): a reference and one comparison "
                f"per trial; got shape {stimuli.shape}."
            )
        if stimuli.shape[0] == 0:
            raise ValueError("data is empty: at least one trial is needed.")
        ref, probe = stimuli[:, 0], stimuli[:, 1]
    ref, probe = check.stimuli_pair(ref, probe, input_dim)
    responses = check.binary_responses("responses", responses, ref.shape[0])
    return Trials(ref, probe, responses)


def _stimuli_and_responses(data: Any) -> tuple[Any, Any]:
    if hasattr(data, "stimuli") and hasattr(data, "responses"):
        stimuli, responses = data.stimuli, data.responses
        if isinstance(stimuli, list):  # psyphy's ResponseData keeps lists
            if not stimuli:
                raise ValueError("data is empty: at least one trial is needed.")
            stimuli = np.stack([np.stack(s) for s in stimuli])
        return stimuli, responses
    if hasattr(data, "to_numpy"):
        return data.to_numpy()
    raise TypeError(
        "data must be TrialData, ResponseData, an object with `stimuli` and "
        f"`responses`, or a tuple (ref, probe, responses); got {type(data).__name__}."
    )
