"""The documentation site: strict build, API coverage, runnable examples."""

import os
import pkgutil
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
pytest.importorskip("mkdocstrings_handlers.python")

import psyphy_numpyro

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES_WITH_EXAMPLES = ["index.md", "mvp-model.md", "inference.md", "full-wppm.md", "adaptive.md"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once, with warnings as errors, into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, (
        f"mkdocs build --strict failed (exit {proc.returncode}):\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    return out


def _inventory(site: Path) -> set[str]:
    """Object names in the Sphinx inventory mkdocstrings writes."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four plain-text header lines, then zlib
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def test_strict_build_succeeds(site):
    for page in ["index.html", "mvp-model/index.html", "inference/index.html",
                 "api/index.html", "objects.inv"]:
        assert (site / page).is_file(), f"{page} missing from the built site"


def test_every_public_name_is_documented(site):
    inventory = _inventory(site)
    api_html = (site / "api" / "index.html").read_text()
    missing = [
        name for name in psyphy_numpyro.__all__
        if f"psyphy_numpyro.{name}" not in inventory
        and not re.search(rf'id="psyphy_numpyro\.(\w+\.)?{re.escape(name)}"', api_html)
    ]
    assert not missing, (
        f"names in psyphy_numpyro.__all__ missing from the API reference: {missing}; "
        "document them in their module (or add the module to docs/api.md)."
    )


def test_every_public_module_has_an_api_section():
    listed = set(re.findall(r"^::: psyphy_numpyro\.([\w.]+)\s*$",
                            (DOCS / "api.md").read_text(), flags=re.MULTILINE))
    modules = {m.name.removeprefix("psyphy_numpyro.")
               for m in pkgutil.walk_packages(psyphy_numpyro.__path__, "psyphy_numpyro.")
               if not any(part.startswith("_") for part in m.name.split("."))}
    assert not modules - listed, (
        f"modules without a '::: psyphy_numpyro.<module>' block in docs/api.md: "
        f"{sorted(modules - listed)}"
    )
    unknown = sorted(listed - modules)
    assert not unknown, f"docs/api.md lists modules that do not exist: {unknown}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_page_examples_run(page, tmp_path):
    """The ```python blocks of a page, run top to bottom in a fresh process."""
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    assert blocks, f"{page} has no python examples"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", "\n\n".join(blocks)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, (
        f"examples in docs/{page} failed:\n{proc.stderr[-4000:]}"
    )
