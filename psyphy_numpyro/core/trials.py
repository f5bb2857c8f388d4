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


def pad_trials(datasets: list, num_datasets: int | None = None,
               num_trials: int | None = None) -> tuple[np.ndarray, ...]:
    """Stack datasets ``(ref, probe, responses)`` of any lengths into padded arrays.

    Padding repeats a dataset's first trial (finite values) and, up to
    ``num_datasets``, the last dataset; the mask says which trials are real.

    Returns
    -------
    ref, probe, responses, mask
        Shapes ``(S, N, d)``, ``(S, N, d)``, ``(S, N)`` (float32) and ``(S, N)``
        (bool), with S ``num_datasets`` and N ``num_trials`` (defaults: the
        number of datasets and the longest).

    Examples
    --------
    >>> ref, probe, y, mask = pad_trials([(np.zeros((2, 1)), np.ones((2, 1)), np.ones(2)),
    ...                                   (np.zeros((1, 1)), np.ones((1, 1)), np.zeros(1))])
    >>> ref.shape, mask.tolist()
    ((2, 2, 1), [[True, True], [True, False]])
    """
    num = len(datasets) if num_datasets is None else num_datasets
    size = max(len(d[0]) for d in datasets) if num_trials is None else num_trials
    order = [min(s, len(datasets) - 1) for s in range(num)]

    def pad(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[:1], size - len(x), axis=0)])

    ref, probe, responses = (np.stack([pad(datasets[s][i]) for s in order]).astype(np.float32)
                             for i in range(3))
    mask = np.stack([np.arange(size) < len(datasets[s][0]) for s in order])
    return ref, probe, responses, mask

