"""Writers of small files in exactly Hong et al.'s published formats (for tests).

The published CSVs were written by pandas: a cell holding commas is double
quoted (``"0.1,-0.2"``), floats have 8 decimals, lines end in ``\\n``. Loaded by
path from the test files (``load_writers()``), as pytest's importlib mode puts
no test folder on ``sys.path``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

THRES_GRID = np.linspace(-0.7, 0.7, 7)


def _f(x: float) -> str:
    return f"{x:.8f}"


def _vec(v) -> str:
    return ",".join(_f(x) for x in v)


def _mat(m) -> str:
    return "[[" + "],[".join(",".join(_f(x) for x in row) for row in m) + "]]"


def _write(path: Path, header: list[str] | None, rows: list[list[str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")  # pandas' QUOTE_MINIMAL
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def trial_types(n_sobol: int, n_adaptive: int, n_pregen: int, mocs: int) -> list[str]:
    """The published TrialType labels, in the published order."""
    types = [f"AEPsych_{i}_Sobol_{i}" for i in range(n_sobol)]
    types += [f"AEPsych_{n_sobol + j}_adaptive_{j}" for j in range(n_adaptive)]
    types += [f"pregenSobol_{k}" for k in range(n_pregen)]
    types += [f"MOCS_{n // 4}_cond_{n % 4}_level_{n % 3}_trial_{n}"
              for n in range(mocs)]
    return types


def write_trials(path, types, refs, comps, answers) -> Path:
    rows = [[t, _vec(r), _vec(c), str(int(y))]
            for t, r, c, y in zip(types, refs, comps, answers)]
    return _write(path, ["TrialType", "xref", "x1", "y"], rows)


def bootstrap_names(prefix: str, n: int) -> list[str]:
    """``{prefix}_btst{b}_rank{r}``, by rank r, with shuffled bootstrap ids b."""
    ids = np.random.default_rng(n).permutation(n)
    return [f"{prefix}_btst{b}_rank{r}" for r, b in enumerate(ids)]


def write_weights(path, W, W_boot=()) -> Path:
    """``Bestfit_W``: index ``"i,j,k,l"`` in C order, ``W_org``, bootstrap columns."""
    W = np.asarray(W)
    boots = [np.asarray(b) for b in W_boot]
    header = ["i,j,k,l", "W_org", *bootstrap_names("W", len(boots))]
    rows = [[",".join(str(i) for i in idx), _f(W[idx]), *(_f(b[idx]) for b in boots)]
            for idx in np.ndindex(*W.shape)]
    return _write(path, header, rows)


def thres_grid() -> np.ndarray:
    """The 7 x 7 references, first coordinate fastest: shape (49, 2)."""
    x, y = np.meshgrid(THRES_GRID, THRES_GRID)
    return np.stack([x, y], axis=-1).reshape(-1, 2)


def write_sigma_table(path, coords, sigmas, sigmas_boot=(), *, kind="thres") -> Path:
    """``Thres_ellipses`` (``kind="thres"``) or ``Noise_ellipses`` (``"noise"``)."""
    first = "grid_ref" if kind == "thres" else "grid_ref_fine"
    prefix = f"Sigmas_{kind}_grid"
    header = [first, f"{prefix}_org", *bootstrap_names(prefix, len(sigmas_boot))]
    rows = [[_vec(c), _mat(s), *(_mat(b[m]) for b in sigmas_boot)]
            for m, (c, s) in enumerate(zip(coords, sigmas))]
    return _write(path, header, rows)


def write_calibration(path, M) -> Path:
    """Header-less 3 x 3 matrix."""
    return _write(path, None, [[_f(x) for x in row] for row in np.asarray(M)])


def subject_names(n: int) -> dict[str, str]:
    return {"trials": f"trial_data_pooled_by_type_sub{n}.csv",
            "weights": f"Bestfit_W_sub{n}.csv",
            "thres_ellipses": f"Thres_ellipses_sub{n}.csv"}
