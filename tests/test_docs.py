"""The documentation site: strict build, API coverage, offline pages, runnable examples.

Every ```python block of every page is runnable: a page's blocks run in order,
as one script, in a fresh process (``test_page_examples_run``). Code that is
not meant to run goes in another kind of block (```text, ```bash); a page whose
examples cannot run here (they need a download, say) says so, and why, in a
line ``<!-- docs test: not run: <reason> -->``.
"""

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
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
NOT_RUN = re.compile(r"^<!-- docs test: not run: \S.*-->$", flags=re.MULTILINE)
PAGES_WITH_EXAMPLES = sorted(
    page.name for page in DOCS.glob("*.md")
    if PYTHON_BLOCK.search(page.read_text()) and not NOT_RUN.search(page.read_text())
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once, with warnings as errors, into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
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


def test_pages_load_nothing_from_the_network(site):
    """No page needs a network: no remote script or stylesheet (no CDN)."""
    remote = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"')
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 5
    found = {str(p.relative_to(site)): remote.findall(p.read_text()) for p in pages}
    found = {page: tags for page, tags in found.items() if tags}
    assert not found, f"pages that load files from the network: {found}"


def test_formulas_are_mathml(site):
    """Every formula is MathML, typeset at build time; no TeX is left for a script."""
    formulas = 0
    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        elements = re.findall(r'<(span|div) class="arithmatex">(.*?)</\1>', html, re.DOTALL)
        for tag, inner in elements:
            assert inner.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"'), (
                f"{page.relative_to(site)}: a formula was not typeset: {inner[:80]!r}")
            assert ('display="block"' in inner) == (tag == "div")
        formulas += len(elements)
    assert formulas > 100  # the maths pages and the API reference's docstrings
    # one known formula, Sigma(x) = U(x) U(x)^T + eps I, as the structure it must have
    page = (site / "full-wppm" / "index.html").read_text()
    assert re.search(r'<mi mathvariant="normal">&#x003A3;</mi><mo stretchy="false">'
                     r'&#x00028;</mo><mi>x</mi><mo stretchy="false">&#x00029;</mo>'
                     r'<mo>&#x0003D;</mo><mi>U</mi>', page)


def test_every_example_script_is_linked(site):
    """Each script in docs/examples is in the site and linked from a page."""
    hrefs = set()
    for page in site.rglob("*.html"):
        for href in re.findall(r'href="([^"#]*examples/[^"#]*\.py)"', page.read_text()):
            hrefs.add((page.parent / href).resolve())
    for script in sorted((DOCS / "examples").glob("*.py")):
        built = (site / "examples" / script.name).resolve()
        assert built.is_file(), f"{script.name} is not in the built site"
        assert built in hrefs, f"no page links to examples/{script.name}"


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
    blocks = PYTHON_BLOCK.findall((DOCS / page).read_text())
    assert blocks, f"{page} has no python examples"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", "\n\n".join(blocks)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"examples in docs/{page} failed:\n{proc.stderr[-4000:]}"
    )
