"""Run psyphy 0.0.5's own test suite against psyphy_numpyro, imports changed only.

The script copies the ``tests/`` folder of psyphy's source distribution to a
temporary directory (never into this repository), rewrites the import lines,
runs pytest there in a subprocess, and prints per file how many tests passed,
failed or errored, the total pass rate, and the first line of every failure.

By default the rewrite is the one-word port a user makes: ``psyphy`` becomes
``psyphy_numpyro`` and the module path is kept (``from psyphy.model.wppm import
WPPM`` -> ``from psyphy_numpyro.model.wppm import WPPM``), so the run also tests
that psyphy_numpyro has psyphy's module paths. ``--to-top-level`` instead
points every import at the top level (``from psyphy_numpyro import WPPM``),
which tests the names alone.

The denominator is the set of tests psyphy itself collects from the unchanged
files (when psyphy is importable), so a test file that fails to import under
psyphy_numpyro counts all of its tests as errors rather than one.

Each copy sits at ``<work>/<run>/tests``, so a test that looks for its
project's files at ``Path(__file__).parents[1]`` looks in ``<work>/<run>``.
psyphy's ``test_docs_recipe.py`` checks ``docs/examples/wppm/hong2025_recipe.py``
there, a file psyphy's sdist does not ship: the rewritten run gets a copy of
this repository's ``docs/examples/wppm/`` (a recipe written with
psyphy_numpyro's names), while the unchanged run against psyphy gets no docs,
so its failures there stay psyphy's own.

Usage::

    python validation/psyphy_suite.py [SDIST_DIR] [--to-top-level] [--baseline]
                                      [--data-home DIR] [--json OUT]
    python validation/psyphy_suite.py SDIST_DIR -- -k covariance   # pytest args

``SDIST_DIR`` is an unpacked psyphy 0.0.5 source distribution (the folder
holding ``tests/``); without it the sdist is downloaded with
``pip download --no-deps --no-binary :all: psyphy==0.0.5``. ``--baseline``
also runs the unchanged tests against psyphy, so the failures psyphy shares
are marked. psyphy's tests of Hong et al.'s published data skip unless the
data are downloaded; ``--data-home DIR`` points both packages at a download
(``DIR/hong2025/sub1/...``, the layout of both ``fetch`` functions; psyphy's
own cache is ``~/.cache/psyphy``). The pytest hooks below make this file its
own result recorder (pytest loads it with ``-p psyphy_suite``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

PSYPHY_VERSION = "0.0.5"
# this repository's docs that psyphy's tests read, relative to the project root
REPO = Path(__file__).resolve().parents[1]
RECIPE_DOCS = Path("docs") / "examples" / "wppm"
RESULTS_ENV = "PSYPHY_SUITE_RESULTS"
# where each package's hong2025.fetch keeps Hong et al.'s data (<dir>/hong2025/...)
DATA_HOME_ENVS = ("PSYPHY_DATA_HOME", "PSYPHY_NUMPYRO_DATA_HOME")
OUTCOMES = ("passed", "failed", "errored", "skipped")

# The module path after ``psyphy`` (group 2) is kept or dropped by the mode.
# ``from psyphy.model.likelihood import X``
_FROM = re.compile(r"^(\s*)from\s+psyphy((?:\.[\w.]+)?)\s+import\b", re.MULTILINE)
# ``import psyphy as p`` / ``import psyphy.model as m``
_IMPORT_AS = re.compile(
    r"^(\s*)import\s+psyphy((?:\.[\w.]+)?)\s+as\s+(\w+)", re.MULTILINE
)
# ``import psyphy`` / ``import psyphy.model``: the code goes on to use ``psyphy.``
_IMPORT = re.compile(r"^(\s*)import\s+psyphy((?:\.[\w.]+)?)[ \t]*(#.*)?$",
                     re.MULTILINE)


def _one_word(match: re.Match, *, keep_path: bool = True) -> str:
    """``import psyphy.x`` -> ``import psyphy_numpyro.x, psyphy_numpyro as psyphy``.

    ``keep_path=False`` drops the module path: ``import psyphy_numpyro as psyphy``.
    """
    indent, path, comment = match.group(1), match.group(2), match.group(3) or ""
    loaded = f"psyphy_numpyro{path}, " if path and keep_path else ""
    line = f"{indent}import {loaded}psyphy_numpyro as psyphy"
    return f"{line}  {comment}" if comment else line


def rewrite_imports(source: str, *, to_top_level: bool = False) -> str:
    """Rewrite psyphy's import lines to import psyphy_numpyro.

    By default only the word changes (``from psyphy.model.wppm import WPPM`` ->
    ``from psyphy_numpyro.model.wppm import WPPM``); ``to_top_level`` points
    every import at the top level instead (``from psyphy_numpyro import WPPM``).
    A bare ``import psyphy.model`` also binds ``psyphy`` to psyphy_numpyro, as
    the code that follows it uses that name.
    """
    if to_top_level:
        source = _FROM.sub(r"\1from psyphy_numpyro import", source)
        source = _IMPORT_AS.sub(r"\1import psyphy_numpyro as \3", source)
        return _IMPORT.sub(lambda m: _one_word(m, keep_path=False), source)
    source = _FROM.sub(r"\1from psyphy_numpyro\2 import", source)
    source = _IMPORT_AS.sub(r"\1import psyphy_numpyro\2 as \3", source)
    return _IMPORT.sub(_one_word, source)


# -- pytest hooks: active only when pytest loads this file with -p ------------
_records: list[dict] = []


def _first_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [ln for ln in str(report.longrepr).splitlines() if ln.startswith("E   ")]
    if crash is None and lines:  # collection errors: the last "E" line names the cause
        text = lines[-1][4:]
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail") or report.outcome == "skipped":
            outcome = "skipped"
        elif report.outcome == "passed":
            outcome = "passed"
        else:
            outcome = "failed" if report.when == "call" else "errored"
        message = _first_line(report) if outcome in ("failed", "errored") else ""
        _records.append({"id": report.nodeid, "outcome": outcome, "message": message})


def pytest_collectreport(report):
    if report.failed:
        _records.append({"id": report.nodeid, "outcome": "errored",
                         "message": _first_line(report)})


def pytest_sessionfinish(session):
    path = os.environ.get(RESULTS_ENV)
    if path:
        Path(path).write_text(json.dumps(_records))


# -- the driver ----------------------------------------------------------------
def fetch_sdist(workdir: Path) -> Path:
    """Download and unpack psyphy's sdist; return the folder holding ``tests/``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"psyphy=={PSYPHY_VERSION}", "-d", str(workdir)],
        check=True,
    )
    archive = next(workdir.glob("psyphy-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return next(p.parent for p in workdir.glob("psyphy-*/tests"))


def copy_tests(sdist: Path, dest: Path, *, rewrite: bool,
               to_top_level: bool = False) -> Path:
    """Copy ``sdist/tests`` to ``dest``, rewriting imports when asked."""
    shutil.copytree(sdist / "tests", dest, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "pytest.ini").write_text("[pytest]\n")  # pin rootdir; no outside config
    if rewrite:
        for path in dest.rglob("*.py"):
            text = rewrite_imports(path.read_text(), to_top_level=to_top_level)
            path.write_text(text)
    return dest


def run_pytest(tests: Path, python: str, extra: list[str]) -> dict[str, dict]:
    """Run pytest in ``tests`` with this file as a plugin; results by test id."""
    out = tests / "_results.json"
    path = [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH")]
    env = {**os.environ, RESULTS_ENV: str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, path))}
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("MPLBACKEND", "Agg")
    subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "psyphy_suite", "-p", "no:cacheprovider",
         "--continue-on-collection-errors", *extra, "."],
        cwd=tests, env=env, stdout=subprocess.DEVNULL, check=False,
    )
    return {r["id"]: r for r in json.loads(out.read_text())}


def collect_ids(tests: Path, python: str) -> list[str]:
    """Test ids psyphy collects from the unchanged files (those it can import)."""
    proc = subprocess.run(
        [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "."],
        cwd=tests, capture_output=True, text=True, check=False,
    )
    return [ln.strip() for ln in proc.stdout.splitlines() if "::" in ln]


def complete(ours: dict[str, dict], expected: list[str]) -> dict[str, dict]:
    """Count the tests hidden by a file that failed to import as errors."""
    results = dict(ours)
    for test_id in expected:
        if test_id not in results:
            module = test_id.split("::")[0]
            cause = ours.get(module, {}).get("message", "")
            results[test_id] = {"id": test_id, "outcome": "errored",
                                "message": f"not collected: {cause}"}
    # a collection error that hides counted tests is not a test of its own
    return {k: v for k, v in results.items()
            if "::" in k or not any(e.startswith(k + "::") for e in expected)}


def print_table(results: dict[str, dict]) -> Counter:
    """Per-file counts and the totals."""
    per_file: dict[str, Counter] = {}
    for test_id, rec in results.items():
        per_file.setdefault(test_id.split("::")[0], Counter())[rec["outcome"]] += 1
    print(f"\n{'test file':<46}" + "".join(f"{c:>9}" for c in OUTCOMES))
    total = Counter()
    for name in sorted(per_file):
        total += per_file[name]
        print(f"{name:<46}" + "".join(f"{per_file[name][c]:>9}" for c in OUTCOMES))
    print(f"{'TOTAL':<46}" + "".join(f"{total[c]:>9}" for c in OUTCOMES))
    return total


def summarise(results: dict[str, dict], baseline: dict[str, dict] | None) -> None:
    """Print the table, the pass rates and the first line of every failure."""
    total = print_table(results)
    ran = total["passed"] + total["failed"] + total["errored"]
    print(f"\npass rate: {total['passed']}/{ran} = {total['passed'] / max(ran, 1):.1%}"
          " (skipped tests excluded)")

    def shared(test_id: str) -> bool:
        outcome = (baseline or {}).get(test_id, {}).get("outcome")
        return outcome in ("failed", "errored")

    if baseline is not None:
        base = Counter(r["outcome"] for r in baseline.values())
        print(f"psyphy {PSYPHY_VERSION} on the unchanged files: "
              + ", ".join(f"{base[c]} {c}" for c in OUTCOMES))
        fair = [r for k, r in results.items() if r["outcome"] != "skipped"
                and not shared(k)]
        passed = sum(r["outcome"] == "passed" for r in fair)
        print(f"pass rate on the tests psyphy passes: {passed}/{len(fair)} = "
              f"{passed / max(len(fair), 1):.1%}")
    bad = sorted((r for r in results.values() if r["outcome"] in ("failed", "errored")),
                 key=lambda r: r["id"])
    if bad:
        print("\nfailures (first line of the error):")
    for rec in bad:
        note = "  [fails under psyphy too]" if shared(rec["id"]) else ""
        print(f"  {rec['outcome'].upper():7} {rec['id']}{note}")
        print(f"          {rec['message']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after -- go to pytest.")
    parser.add_argument("sdist", nargs="?", type=Path,
                        help="unpacked psyphy sdist (the folder holding tests/)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with psyphy_numpyro (and psyphy) installed")
    parser.add_argument("--to-top-level", action="store_true",
                        help="import every psyphy name from psyphy_numpyro's top level "
                             "instead of the same module path")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the unchanged tests against psyphy itself")
    parser.add_argument("--data-home", type=Path,
                        help="folder holding hong2025/sub1/... (Hong et al.'s data), "
                             "so that the published-data tests run")
    parser.add_argument("--json", type=Path, help="write the per-test results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    argv = sys.argv[1:] if argv is None else list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)  # pytest's arguments follow
    args = parser.parse_args(argv[:cut])
    args.pytest_args = argv[cut + 1:]
    if args.data_home is not None:
        if not (args.data_home / "hong2025").is_dir():
            parser.error(f"{args.data_home} has no hong2025/ folder (Hong et al.'s "
                         "data).")
        for name in DATA_HOME_ENVS:  # both runs see the same download
            os.environ[name] = str(args.data_home.resolve())

    work = Path(tempfile.mkdtemp(prefix="psyphy_suite_"))
    try:
        sdist = args.sdist if args.sdist is not None else fetch_sdist(work / "sdist")
        if not (sdist / "tests").is_dir():
            parser.error(f"{sdist} has no tests/ folder; pass an unpacked sdist.")
        original = copy_tests(sdist, work / "original" / "tests", rewrite=False)
        expected = collect_ids(original, args.python)
        baseline = None
        if args.baseline:
            baseline = run_pytest(original, args.python, args.pytest_args)
        rewritten = copy_tests(sdist, work / "rewritten" / "tests", rewrite=True,
                               to_top_level=args.to_top_level)
        shutil.copytree(REPO / RECIPE_DOCS, work / "rewritten" / RECIPE_DOCS,
                        ignore=shutil.ignore_patterns("__pycache__"))
        mode = "to the top level" if args.to_top_level else "same module paths"
        print(f"imports rewritten: psyphy -> psyphy_numpyro, {mode}")
        results = complete(run_pytest(rewritten, args.python, args.pytest_args),
                           [] if args.pytest_args else expected)
        if args.json:
            both = {"psyphy_numpyro": results, "psyphy": baseline}
            args.json.write_text(json.dumps(both, indent=1))
        summarise(results, baseline)
        if args.keep:
            print(f"\nfiles kept in {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
