"""The layers: the core never imports the facade above it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "psyphy_numpyro"
FACADE = ("model", "inference", "posterior", "data", "trial_placement", "experiment", "viz",
          "utils", "cli")
CORE_FILES = sorted((PACKAGE / "core").rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    """Absolute module names imported anywhere in a file (lazy imports too)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_never_imports_the_facade(path):
    above = sorted(
        name for name in _imported_modules(path)
        if name == "psyphy_numpyro"
        or any(name == f"psyphy_numpyro.{f}" or name.startswith(f"psyphy_numpyro.{f}.")
               for f in FACADE)
    )
    assert not above, f"{path.relative_to(PACKAGE)} imports the layer above: {above}"


def test_the_check_sees_relative_and_lazy_imports(tmp_path):
    core = tmp_path / "psyphy_numpyro" / "core"
    core.mkdir(parents=True)
    bad = core / "bad.py"
    bad.write_text("def f():\n    from ..model.wppm import WPPM\n    return WPPM\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "psyphy_numpyro"
    try:
        assert "psyphy_numpyro.model.wppm" in _imported_modules(bad)
    finally:
        PACKAGE = saved
