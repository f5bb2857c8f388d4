"""Trial containers in psyphy's shapes, and their conversion to arrays.

``ResponseData`` collects trials one at a time (mutable, as in psyphy);
``TrialData`` is the immutable batch that models compute on. Any object with
psyphy's attributes (``stimuli`` and ``responses``, or ``to_numpy()``) is
accepted where data is expected, so psyphy stays optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import _validation as check

__all__ = ["ResponseData", "TrialData", "Trials", "as_trials"]


class Trials(NamedTuple):
    """Validated arrays for a model: ``ref`` and ``probe`` (N, d), ``responses`` (N,)."""

    ref: np.ndarray
    probe: np.ndarray
    responses: np.ndarray


@dataclass(frozen=True)
class TrialData:
    """An immutable batch of trials.

    Parameters
    ----------
    stimuli
        Shape ``(N, K, d)``: ``K = 2`` stimuli (reference, comparison) per trial.
    responses
        Shape ``(N,)`` or ``(N, 1)``: 1 for a correct answer, 0 for a wrong one.
    """

    stimuli: Any
    responses: Any

    def __post_init__(self) -> None:
        stimuli = np.asarray(self.stimuli, dtype=float)
        responses = np.asarray(self.responses)
        if stimuli.ndim != 3:
            raise ValueError(
                f"stimuli must have shape (N, K, d), got shape {stimuli.shape}."
            )
        if responses.ndim == 1:
            responses = responses[:, None]
        if responses.ndim != 2 or responses.shape[0] != stimuli.shape[0]:
            raise ValueError(
                f"responses must have shape (N,) or (N, 1) with N = "
                f"{stimuli.shape[0]}, got shape {np.shape(self.responses)}."
            )
        object.__setattr__(self, "stimuli", stimuli)
        object.__setattr__(self, "responses", responses)

    @property
    def num_trials(self) -> int:
        """Number of trials ``N``."""
        return int(self.stimuli.shape[0])

    def __len__(self) -> int:
        return self.num_trials


class ResponseData:
    """Trials collected one by one, as in psyphy.

    Examples
    --------
    >>> data = ResponseData()
    >>> data.add_trial(ref=[0.0, 0.0], probe=[0.1, 0.0], resp=1)
    >>> stimuli, responses = data.to_numpy()
    >>> stimuli.shape, responses.shape
    ((1, 2, 2), (1,))
    """

    def __init__(self) -> None:
        self.stimuli: list[np.ndarray] = []
        self.responses: list[int] = []

    def add_trial(
        self,
        input: Any = None,
        resp: Any = None,
        context: Any = None,
        *,
        ref: Any = None,
        probe: Any = None,
    ) -> None:
        """Append one trial.

        Accepts the seed's ``add_trial(ref=, probe=, resp=)`` and psyphy
        0.0.5's ``add_trial((ref, probe), resp)``.
        """
        del context  # no built-in model uses context yet
        if input is None:
            if ref is None or probe is None:
                raise TypeError("add_trial needs ref= and probe=, or input=(ref, probe).")
            input = (ref, probe)
        if resp is None:
            raise TypeError("add_trial needs resp= (1 correct, 0 wrong).")
        self.stimuli.append(np.stack([np.asarray(s, dtype=float) for s in input]))
        self.responses.append(resp)

    def __len__(self) -> int:
        return len(self.responses)

    @property
    def num_trials(self) -> int:
        """Number of trials collected."""
        return len(self)

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(stimuli (N, K, d), responses (N,))`` as numpy arrays."""
        if not self.stimuli:
            return np.zeros((0, 2, 0)), np.zeros((0,), dtype=np.int32)
        return np.stack(self.stimuli), np.asarray(self.responses)

    def to_trial_data(self) -> TrialData:
        """Return the trials as an immutable :class:`TrialData`."""
        stimuli, responses = self.to_numpy()
        return TrialData(stimuli, responses)


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
        if stimuli.ndim != 3 or stimuli.shape[1] < 2:
            raise ValueError(
                f"stimuli must have shape (N, 2, d), got shape {stimuli.shape}."
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
