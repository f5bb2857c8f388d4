"""The one interval rule: a pointwise median and central credible interval over draws."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from psyphy_numpyro.core import checks as check

__all__ = ["Interval", "central_interval"]


class Interval(NamedTuple):
    """Pointwise median and central credible interval of a readout."""

    lower: np.ndarray
    median: np.ndarray
    upper: np.ndarray


def central_interval(x: np.ndarray, prob: float) -> Interval:
    """Central ``prob`` interval and median of ``x`` along axis 0 (the draws).

    numpy's linear percentiles, except that an infinite value (a threshold a
    draw never reaches) stays infinite instead of turning into NaN.

    Examples
    --------
    >>> lo, med, hi = central_interval(np.array([1.0, 2.0, 3.0, np.inf]), 0.5)
    >>> float(lo), float(med), float(hi)
    (1.75, 2.5, inf)
    """
    check.open_unit_interval("prob", prob)
    x = np.asarray(x)
    tail = 50.0 * (1.0 - prob)
    q = [tail, 50.0, 100.0 - tail]
    if np.all(np.isfinite(x)):
        return Interval(*np.percentile(x, q, axis=0))
    s = np.sort(x, axis=0)
    n = s.shape[0]
    out = []
    for qi in q:
        pos = qi / 100.0 * (n - 1)
        i, frac = int(np.floor(pos)), pos - np.floor(pos)
        j = min(i + 1, n - 1)
        if frac == 0.0:
            out.append(s[i])
        else:
            with np.errstate(invalid="ignore"):
                val = s[i] + frac * (s[j] - s[i])
            out.append(np.where(np.isinf(s[j]), np.inf, val))
    return Interval(*out)
