"""Run every notebook in ``notebooks/`` from top to bottom, at reduced sizes.

Each notebook runs in a fresh kernel on the interpreter that runs pytest, so
the kernel sees the same environment and the same editable install. A cell
tagged ``parameters`` (the papermill convention) holds the notebook's sizes.
The assignments in :data:`SMALL_SIZES` that set names this cell already
defines are appended to it, so the cell's defaults still document the
full-size run. A notebook without such a cell runs unchanged. New notebooks
are picked up by the glob without changes here.
"""

from __future__ import annotations

import ast
import base64
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

#: Values that replace a notebook's defaults, when its parameters cell sets them.
SMALL_SIZES = {
    "map_steps": 300,
    "num_warmup": 200,
    "num_samples": 200,
    "num_chains": 2,
    "num_prior_draws": 100,
    "svi_steps": 500,
}

#: Per-notebook values, applied after :data:`SMALL_SIZES` (full-WPPM NUTS is costly).
NOTEBOOK_SIZES = {
    "03_uncertainty.ipynb": {
        "basis_degree": 1,
        "grid_size": 2,
        "trials_per_ref": 20,
        "map_steps": 100,
        "num_warmup": 10,
        "num_samples": 15,  # 30 draws: ArviZ 1.x's PSIS-LOO needs at least 25
        "num_chains": 2,
        "num_draws": 20,
        "num_angles": 8,
        "svi_steps": 100,
        "heldout_per_level": 10,
        "loo_degrees": (0, 1),
    },
    "05_many_observers.ipynb": {
        "map_steps": 300,
        "num_replicates": 8,
        "num_warmup": 100,
        "num_samples": 100,  # 2 chains: 200 draws for PSIS-LOO
        "num_chains": 2,
        "num_draws": 100,
    },
}

#: A code cell that draws: a matplotlib call that makes or fills a figure, or a
#: ``plot_*`` function (ours or ArviZ's).
DRAWS = re.compile(r"\bplot_\w+\(|\bplt\.(subplots|figure|gcf)\b|"
                   r"\.(plot|hist|scatter|imshow|errorbar)\(")

#: Most bytes of a stored notebook, and of one stored figure.
MAX_NOTEBOOK_BYTES = 1_000_000
MAX_FIGURE_BYTES = 150_000  # binary PNG

KERNEL_NAME = "psyphy-numpyro-test"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory) -> KernelSpecManager:
    """A kernelspec that starts ``sys.executable``, whatever ``PATH`` says.

    The stock ``python3`` spec runs ``python`` from ``PATH``. The spec here
    pins the kernel to the interpreter that runs pytest and is written to a
    temporary folder, so nothing is installed into the environment.
    """
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "psyphy_numpyro tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(root)])


def assigned_names(source: str) -> set[str] | None:
    """Names assigned at the top level of ``source``; None if it is not plain Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. an IPython magic in the cell
        return None
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        else:
            continue
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def shrink(nb: nbformat.NotebookNode, sizes: dict | None = None) -> list[str]:
    """Append ``sizes`` (default :data:`SMALL_SIZES`) to the ``parameters`` cell.

    Returns the names set.
    """
    sizes = SMALL_SIZES if sizes is None else sizes
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            defined = assigned_names(cell.source)
            names = [k for k in sizes if defined is None or k in defined]
            lines = [f"{k} = {sizes[k]!r}" for k in names]
            cell.source += "\n\n# Smaller sizes for the test suite\n" + "\n".join(lines)
            return names
    return []


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(
    path: Path, kernel_specs: KernelSpecManager, monkeypatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    nb = nbformat.read(path, as_version=4)
    shrink(nb, {**SMALL_SIZES, **NOTEBOOK_SIZES.get(path.name, {})})

    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_specs)
    assert km.kernel_spec.argv[0] == sys.executable
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()  # raises CellExecutionError, with the traceback, on failure
    finally:
        # The client only shuts down kernels it started itself.
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)

    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"


def test_seed_notebook_takes_small_sizes() -> None:
    # Without its parameters cell, notebook 01 would run at full size here.
    nb = nbformat.read(NOTEBOOK_DIR / "01_map_and_nuts.ipynb", as_version=4)
    assert shrink(nb) == list(SMALL_SIZES)


@pytest.mark.parametrize("name", sorted(NOTEBOOK_SIZES))
def test_notebook_specific_sizes_all_apply(name: str) -> None:
    # A size the parameters cell does not define would be silently ignored.
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    sizes = NOTEBOOK_SIZES[name]
    assert set(shrink(nb, {**SMALL_SIZES, **sizes})) >= set(sizes)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_holds_its_outputs(path: Path) -> None:
    # A reader on the web sees only what is stored: run top to bottom, every figure,
    # no error, and small enough to open.
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is too large"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, f"{path.name}: some code cells were never run"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not run in order"
    for i, cell in enumerate(code):
        outputs = cell.get("outputs", [])
        assert not [o for o in outputs if o.output_type == "error"], (path.name, i)
        images = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
        if DRAWS.search(cell.source):
            assert images, f"{path.name}: code cell {i} draws but stores no figure"
        for png in images:
            assert len(base64.b64decode(png)) < MAX_FIGURE_BYTES, (path.name, i)


@pytest.mark.parametrize("source, draws", [
    ("ax = plot_thresholds(trials, contours, band)", True),
    ("fig, ax = plt.subplots(figsize=(6, 3))", True),
    ("ax.hist(x, bins=bins)", True),
    ('plt.rcParams["figure.dpi"] = 72', False),
    ("from psyphy_numpyro import (\n    plot_thresholds,\n)", False),
])
def test_draws_spots_plotting_cells(source: str, draws: bool) -> None:
    assert bool(DRAWS.search(source)) is draws
