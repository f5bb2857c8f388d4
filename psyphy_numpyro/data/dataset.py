"""Trial containers in psyphy's shapes, and their conversion to arrays.

``ResponseData`` collects trials one at a time (mutable, as in psyphy);
``TrialData`` is the immutable batch that models compute on; ``TrialBatch`` is a
proposed batch of stimuli without answers (what a placement strategy returns).
Any object with psyphy's attributes (``stimuli`` and ``responses``, or
``to_numpy()``) is accepted where data is expected, so psyphy stays optional.

``ResponseData`` and ``TrialData`` convert both ways without loss: stimuli are
kept as float64 and responses keep their dtype, so
``ResponseData.from_trial_data(d).to_trial_data()`` reproduces ``d`` bit for bit.

Differences from psyphy 0.0.5, all deliberate:

- stimuli are stored as float64 copies, so later edits to the caller's arrays do
  not leak into the log;
- a trial that would make the log inconsistent (a new stimulus or response
  shape, context on some trials only) is refused before anything is appended,
  and ``add_batch`` appends all of a batch or none of it;
- ``add_batch`` refuses a response list whose length differs from the batch
  (psyphy ``zip``-truncates);
- ``tail(0)`` is empty (psyphy's ``[-0:]`` slice returns everything), and
  ``copy`` copies the arrays too;
- ``trials`` returns ``(stim_1, ..., stim_K, response)`` tuples (psyphy adds the
  response to the stimulus array instead);
- ``merge`` into an empty log adopts the other log's context.

``to_numpy()`` answers in the shape of the era that filled the log. psyphy
0.0.5 returns ``(stimuli, responses)``; the seed releases returned ``(refs,
probes, responses)`` and filled the log with ``add_trial(ref=, probe=,
resp=)``, keywords psyphy 0.0.5 does not accept. So the first trial decides, as
it decides the stimulus shape: a log whose first trial came through ``ref=`` and
``probe=`` answers with the seed's three arrays, every other log (first trial
``add_trial(input, resp)``, ``add_batch``, ``from_arrays``, a CSV file, or no
trial yet) with psyphy 0.0.5's two. ``to_numpy(layout=...)`` picks either shape
explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.trials import TrialData

__all__ = ["LAYOUTS", "ResponseData", "TrialBatch", "TrialData"]

LAYOUTS = ("stimuli", "ref_probe")
"""Shapes of :meth:`ResponseData.to_numpy`: psyphy 0.0.5's ``(stimuli,
responses)`` and the seed releases' ``(refs, probes, responses)``."""


class TrialBatch:
    """A proposed batch of trials: stimuli only, no answers (psyphy's shape).

    Parameters
    ----------
    stimuli
        One group of ``K`` stimuli per trial, e.g. ``[(ref, probe), ...]`` or an
        array of shape ``(B, K, d)``. Each group is stored as a float64 array of
        shape ``(K, d)``; all groups must have the same shape.

    Examples
    --------
    >>> batch = TrialBatch.from_stimuli([([0.0, 0.0], [0.1, 0.0])])
    >>> len(batch), batch.to_numpy().shape
    (1, (1, 2, 2))
    """

    def __init__(self, stimuli: Any) -> None:
        groups = [_stimulus_group(g, f"stimuli[{i}]") for i, g in enumerate(stimuli)]
        for i, g in enumerate(groups):
            if g.shape != groups[0].shape:
                raise ValueError(
                    f"every trial needs stimuli of the same shape (K, d); "
                    f"stimuli[0] has {groups[0].shape}, stimuli[{i}] has {g.shape}."
                )
        self.stimuli: list[np.ndarray] = groups

    @classmethod
    def from_stimuli(cls, groups: Any) -> TrialBatch:
        """Build a batch from a list of stimulus groups ``(stim_1, ..., stim_K)``."""
        return cls(groups)

    def __len__(self) -> int:
        return len(self.stimuli)

    def to_numpy(self) -> np.ndarray:
        """Return the stimuli as one array ``(B, K, d)``; ``(0, 2, 0)`` if empty."""
        if not self.stimuli:
            return np.zeros((0, 2, 0))
        return np.stack(self.stimuli)


class ResponseData:
    """Trials collected one by one, as in psyphy.

    Attributes
    ----------
    stimuli
        One float64 array of shape ``(K, d)`` per trial.
    responses
        One response per trial: a numpy scalar, or an array of shape ``(R,)``
        for multi-channel responses.
    contexts
        One context per trial, or empty when no trial has context.
    stim_shape
        ``(K, d)``, fixed by the first trial; None before it.
    layout
        The shape :meth:`to_numpy` answers in, fixed by the first trial:
        ``"ref_probe"`` if it came through the seed's ``ref=``/``probe=``
        keywords, ``"stimuli"`` (psyphy 0.0.5's) otherwise.

    Examples
    --------
    psyphy 0.0.5's spelling, and its two arrays:

    >>> data = ResponseData()
    >>> data.add_trial(([0.0, 0.0], [0.1, 0.0]), 1)
    >>> stimuli, responses = data.to_numpy()
    >>> stimuli.shape, responses.shape
    ((1, 2, 2), (1,))

    The seed's spelling, and its three arrays:

    >>> seed = ResponseData()
    >>> seed.add_trial(ref=[0.0, 0.0], probe=[0.1, 0.0], resp=1)
    >>> refs, probes, responses = seed.to_numpy()
    >>> refs.shape, probes.shape, responses.shape
    ((1, 2), (1, 2), (1,))
    """

    def __init__(self) -> None:
        self.stimuli: list[np.ndarray] = []
        self.responses: list[Any] = []
        self.contexts: list[np.ndarray] = []
        self.stim_shape: tuple[int, ...] | None = None
        self.layout: str = "stimuli"

    def __repr__(self) -> str:
        return f"ResponseData(num_trials={len(self)}, stim_shape={self.stim_shape})"

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
        0.0.5's ``add_trial((ref, probe), resp, context=None)``. As in psyphy, a
        1-D ``input`` is one stimulus (``K = 1``), not ``K`` scalars. The first
        trial's spelling fixes :attr:`layout`, the shape of :meth:`to_numpy`.

        Raises
        ------
        ValueError
            If the stimulus or response shape differs from earlier trials, or
            context is given on some trials only. Nothing is appended then.
        """
        if input is None:
            if ref is None or probe is None:
                raise TypeError(
                    "add_trial needs ref= and probe=, or input=(ref, probe)."
                )
            ref_arr, probe_arr = np.atleast_1d(ref), np.atleast_1d(probe)
            if ref_arr.shape != probe_arr.shape or ref_arr.ndim != 1:
                raise ValueError(
                    f"ref and probe must be vectors of the same length, got shapes "
                    f"{ref_arr.shape} and {probe_arr.shape}."
                )
            stim = _stimulus_group((ref_arr, probe_arr), "ref/probe")
        elif ref is not None or probe is not None:
            raise TypeError("pass either input=(ref, probe) or ref=/probe=, not both.")
        else:
            stim = _stimulus_group(input, "input")
        if resp is None:
            raise TypeError("add_trial needs resp= (1 correct, 0 wrong).")
        response = _response(resp)
        if self.stim_shape is not None and stim.shape != self.stim_shape:
            raise ValueError(
                f"stimuli must keep the shape (K, d) = {self.stim_shape} of the "
                f"earlier trials, got {stim.shape}."
            )
        if self.responses and np.shape(response) != np.shape(self.responses[0]):
            raise ValueError(
                f"responses must keep the shape {np.shape(self.responses[0])} of "
                f"the earlier trials, got {np.shape(response)}."
            )
        if context is None and self.contexts:
            raise ValueError(
                "context cannot be omitted: earlier trials of this ResponseData "
                "have context."
            )
        if context is not None and self.stimuli and not self.contexts:
            raise ValueError(
                "context cannot be added: earlier trials of this ResponseData "
                "have none."
            )
        if not self.stimuli:
            self.layout = "stimuli" if input is not None else "ref_probe"
        self.stim_shape = stim.shape
        self.stimuli.append(stim)
        self.responses.append(response)
        if context is not None:
            self.contexts.append(np.array(context))

    def add_batch(
        self,
        responses: Any,
        trial_batch: Any,
        contexts: Any = None,
    ) -> None:
        """Append the answers to a proposed :class:`TrialBatch`, in order.

        All trials are appended or, if any is refused, none.
        """
        groups = list(trial_batch.stimuli)
        responses = list(responses)
        if len(responses) != len(groups):
            raise ValueError(
                f"got {len(responses)} responses for a batch of {len(groups)} trials."
            )
        if contexts is not None:
            contexts = list(contexts)
            if len(contexts) != len(groups):
                raise ValueError(
                    f"got {len(contexts)} contexts for a batch of {len(groups)} trials."
                )
        saved = (len(self.stimuli), len(self.contexts), self.stim_shape)
        try:
            for i, (stim, resp) in enumerate(zip(groups, responses)):
                ctx = None if contexts is None else contexts[i]
                self.add_trial(stim, resp, ctx)
        except Exception:
            n, n_ctx, self.stim_shape = saved
            del self.stimuli[n:], self.responses[n:], self.contexts[n_ctx:]
            raise

    def __len__(self) -> int:
        return len(self.responses)

    @property
    def num_trials(self) -> int:
        """Number of trials collected."""
        return len(self)

    @property
    def trials(self) -> list[tuple[Any, ...]]:
        """The trials as ``(stim_1, ..., stim_K, response)`` tuples (no context)."""
        return [tuple(s) + (r,) for s, r in zip(self.stimuli, self.responses)]

    def to_numpy(self, layout: str | None = None) -> tuple[np.ndarray, ...]:
        """Return the trials as arrays, in psyphy 0.0.5's or the seed's shape.

        An empty log gives ``N = 0`` arrays (stimuli ``(0, 2, 0)`` before the
        first trial fixes ``(K, d)``).

        Parameters
        ----------
        layout
            ``"stimuli"``: ``(stimuli (N, K, d), responses (N,) or (N, R))``, as
            psyphy 0.0.5. ``"ref_probe"``: ``(refs (N, d), probes (N, d),
            responses)``, as the seed releases (needs ``K = 2``). None (the
            default) uses :attr:`layout`, which the first trial fixed.
        """
        layout = self.layout if layout is None else layout
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}.")
        if self.stimuli:
            stimuli, responses = np.stack(self.stimuli), np.asarray(self.responses)
        else:
            shape = self.stim_shape if self.stim_shape is not None else (2, 0)
            stimuli, responses = np.zeros((0, *shape)), np.zeros((0,), dtype=np.int32)
        if layout == "stimuli":
            return stimuli, responses
        if stimuli.shape[1] != 2:
            raise ValueError(
                f'layout="ref_probe" needs two stimuli per trial (a reference and a '
                f"probe); this log has K = {stimuli.shape[1]}. Use "
                f'layout="stimuli".'
            )
        return stimuli[:, 0], stimuli[:, 1], responses

    def to_trial_data(self) -> TrialData:
        """Return the trials as an immutable :class:`TrialData`, without loss."""
        stimuli, responses = self.to_numpy("stimuli")
        context = np.stack(self.contexts) if self.contexts else None
        return TrialData(stimuli, responses, context=context)

    @classmethod
    def from_arrays(cls, X: Any, y: Any, c: Any = None) -> ResponseData:
        """Build a log from arrays, as psyphy's ``ResponseData.from_arrays``.

        Parameters
        ----------
        X
            Stimuli, shape ``(N, K, d)``, or ``(N, d)`` for one stimulus per
            trial (``K = 1``).
        y
            Responses, shape ``(N,)`` or ``(N, R)``.
        c
            Optional context, first dimension ``N``.

        Examples
        --------
        >>> X = [[[0.0, 0.0], [0.1, 0.0]], [[0.5, 0.5], [0.5, 0.6]]]
        >>> ResponseData.from_arrays(X, [1, 0]).stim_shape
        (2, 2)
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if X.ndim == 2:
            X = X[:, None, :]
        if X.ndim != 3:
            raise ValueError(
                f"X must have shape (N, K, d) or (N, d), got shape {X.shape}."
            )
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} trials but y has shape {y.shape}; they must "
                "match along the first axis."
            )
        if c is not None:
            c = np.asarray(c)
            if c.ndim == 0 or c.shape[0] != X.shape[0]:
                raise ValueError(
                    f"X has {X.shape[0]} trials but c has shape {c.shape}."
                )
        out = cls()
        for i in range(X.shape[0]):
            out.add_trial(X[i], y[i], None if c is None else c[i])
        out.stim_shape = X.shape[1:]
        return out

    @classmethod
    def from_trial_data(cls, data: Any) -> ResponseData:
        """Build a log from a :class:`TrialData` (or psyphy's), without loss."""
        context = getattr(data, "context", None)
        return cls.from_arrays(data.stimuli, data.responses, context)

    def merge(self, other: Any) -> None:
        """Append every trial of ``other`` to this log (in place).

        ``other`` may be a :class:`ResponseData`, a :class:`TrialData`, or
        psyphy's versions of either. Nothing is appended if the shapes or the
        presence of context disagree.
        """
        other = as_response_data(other)
        if not len(other):
            return
        if len(self):
            if other.stim_shape != self.stim_shape:
                raise ValueError(
                    f"cannot merge: stimulus shapes (K, d) differ, {self.stim_shape} "
                    f"here and {other.stim_shape} in other."
                )
            if np.shape(other.responses[0]) != np.shape(self.responses[0]):
                raise ValueError(
                    f"cannot merge: response shapes differ, "
                    f"{np.shape(self.responses[0])} here and "
                    f"{np.shape(other.responses[0])} in other."
                )
            if bool(self.contexts) != bool(other.contexts) or (
                self.contexts and self.contexts[0].shape != other.contexts[0].shape
            ):
                raise ValueError(
                    "cannot merge: one log has context and the other has none, or "
                    "their context shapes differ."
                )
        elif self.stim_shape is not None and other.stim_shape != self.stim_shape:
            raise ValueError(
                f"cannot merge: stimulus shapes (K, d) differ, {self.stim_shape} "
                f"here and {other.stim_shape} in other."
            )
        copied = other.copy()
        if not len(self):
            self.layout = copied.layout
        self.stim_shape = copied.stim_shape
        self.stimuli.extend(copied.stimuli)
        self.responses.extend(copied.responses)
        self.contexts.extend(copied.contexts)

    def tail(self, n: int) -> ResponseData:
        """Return the last ``n`` trials as a new log (all of them if ``n >= N``)."""
        n = check.positive_int("n", n, minimum=0)
        start = max(len(self) - n, 0)
        out = self.copy()
        del out.stimuli[:start], out.responses[:start]
        del out.contexts[: start if out.contexts else 0]
        return out

    def copy(self) -> ResponseData:
        """Return a deep copy: later changes to either log leave the other alone."""
        out = type(self)()
        out.stim_shape, out.layout = self.stim_shape, self.layout
        out.stimuli = [np.array(s) for s in self.stimuli]
        out.responses = [_copy_response(r) for r in self.responses]
        out.contexts = [np.array(c) for c in self.contexts]
        return out


def as_response_data(data: Any) -> ResponseData:
    """Our ResponseData as is; psyphy's log or any TrialData-like, converted."""
    if isinstance(data, ResponseData):
        return data
    if isinstance(getattr(data, "stimuli", None), list):  # psyphy's ResponseData
        out = ResponseData()
        contexts = list(getattr(data, "contexts", None) or [])
        for i, (s, r) in enumerate(zip(data.stimuli, data.responses)):
            out.add_trial(s, r, contexts[i] if contexts else None)
        return out
    if hasattr(data, "stimuli") and hasattr(data, "responses"):
        return ResponseData.from_trial_data(data)
    raise TypeError(
        "expected ResponseData, TrialData or psyphy's versions of them, got "
        f"{type(data).__name__}."
    )


def _stimulus_group(value: Any, name: str) -> np.ndarray:
    """One trial's stimuli as a float64 copy of shape (K, d), as psyphy reads them."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be K stimuli of the same length d (numbers): {err}"
        ) from None
    if arr.ndim > 2:
        raise ValueError(
            f"{name} must be a (K, d) group of stimuli, got shape {arr.shape}."
        )
    return arr.reshape((1,) * (2 - arr.ndim) + arr.shape)


def _response(value: Any) -> Any:
    """A numpy scalar for one response channel, a (R,) array for several."""
    arr = np.array(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"resp must be a number (1 correct, 0 wrong), got {value!r}.")
    if arr.size == 1 and arr.ndim <= 1:
        return arr.reshape(())[()]
    if arr.ndim != 1:
        raise ValueError(f"resp must be a number or a vector, got shape {arr.shape}.")
    return arr


def _copy_response(value: Any) -> Any:
    return np.array(value) if isinstance(value, np.ndarray) else value
