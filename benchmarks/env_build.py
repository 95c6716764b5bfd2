"""Environment images: cold build, warm QA (image cached) vs the same two runs bare in a ready virtualenv.

Builds a local src/ layout repository with dependencies (a runtime one, python-dateutil; a test extra,
iniconfig; `addopts = --cov` needing pytest-cov; a setuptools_scm version module generated at install time)
and CPU-bound tests, and a trace that adds a failing test and fixes the bug. Measures:
  - cold: replay_trace() of the first trace (detect, build the image from PyPI, run both phases);
  - warm: replay_trace() of the next traces (the image is reused: cache_hit);
  - bare: the same two pytest runs on the host in a virtualenv with the same packages installed.
Target: warm / bare <= 1.5.

    python benchmarks/env_build.py [--tests 16] [--work-ms 250] [--runs 3]
Needs a Docker daemon, the runner image and the package registry (PyPI).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # bugtrail and tests.support from this checkout

from bugtrail.config import Settings  # noqa: E402
from bugtrail.qa.replay import replay_trace  # noqa: E402
from bugtrail.wire import TraceRead  # noqa: E402
from tests.support.env_repos import scm_pyproject  # noqa: E402
from tests.support.repos import head, make_repo  # noqa: E402
from tests.support.slow_suites import bare_trees, burn_suite, fix_trace  # noqa: E402

SOURCE = "from benchpkg._version import version\n\n\ndef add(a, b):\n    return a - b\n"
FIXED = SOURCE.replace("a - b", "a + b")
IMPORTS = "import iniconfig\nfrom dateutil.parser import parse\n\nfrom benchpkg import add"
CHECK = "burn() > 0 and parse('2026-01-01').year and iniconfig"


def benchpkg_repo(path: Path, tests: str) -> str:
    """src/ layout, setuptools_scm, a runtime dependency, a test extra and --cov addopts; its commit."""
    files: dict[str, str | bytes] = {
        "pyproject.toml": scm_pyproject("benchpkg", ["python-dateutil"], ["iniconfig"]),
        "src/benchpkg/__init__.py": SOURCE,
        "tests/test_slow.py": tests,
        ".gitignore": "src/benchpkg/_version.py\n",
    }
    return head(make_repo(path, files, "add subtracts"))


def bare_runs(venv: Path, origin: Path, commit: str, trace: TraceRead, scratch: Path) -> float:
    """The two runs on the host, in a virtualenv that has the project (editable) and its test packages."""
    trees = bare_trees(origin, commit, trace, scratch)
    for tree in trees:
        # What the install generated in the origin checkout (the version module) exists here too.
        generated = origin / "src" / "benchpkg" / "_version.py"
        (tree / "src" / "benchpkg" / "_version.py").write_text(generated.read_text())
    started = time.monotonic()
    for tree in trees:
        # The venv's editable install points at the origin checkout: PYTHONPATH puts this tree's src first.
        env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "PYTHONPATH": str(tree / "src"), "HOME": str(scratch)}
        command = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False, env=env)
        assert "passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tests", type=int, default=16)
    parser.add_argument("--work-ms", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bugtrail-env-bench-") as tmp_name:
        tmp = Path(tmp_name)
        origin = tmp / "repos" / "benchpkg"
        tests = burn_suite(args.tests, args.work_ms, IMPORTS, CHECK)
        commit = benchpkg_repo(origin, tests)
        settings = Settings(data_dir=tmp / "data", repo_allowlist=f"file://{tmp}/repos/", test_timeout_s=600)
        suite = ("tests/test_slow.py", tests)
        trace = fix_trace(f"file://{origin}", commit, suite, ("src/benchpkg/__init__.py", SOURCE, FIXED))

        started = time.monotonic()
        first = replay_trace(settings, trace, tmp / "logs" / "cold")
        cold_s = time.monotonic() - started
        environment = first.environment
        assert first.verdict is not None and first.verdict.resolved, (first.error, environment)
        assert environment is not None and environment.cache_hit is False
        warm: list[float] = []
        hits = []
        for run in range(args.runs):
            started = time.monotonic()
            result = replay_trace(settings, trace, tmp / "logs" / f"warm-{run}")
            warm.append(time.monotonic() - started)
            assert result.verdict is not None and result.verdict.resolved, result.error
            hits.append(bool(result.environment and result.environment.cache_hit))

        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", "--isolated"]
        subprocess.run([*pip, "pytest", "pytest-cov", "iniconfig", "python-dateutil"], check=True)
        subprocess.run([*pip, "-e", str(origin)], check=True, env={"SETUPTOOLS_SCM_PRETEND_VERSION": "1.0",
                                                                  "PATH": "/usr/bin:/bin"})  # fmt: skip
        bare = [bare_runs(venv, origin, commit, trace, tmp / f"bare-{run}") for run in range(args.runs)]
        subprocess.run(["docker", "rmi", "-f", environment.image], capture_output=True, check=False)

    bare_s, warm_s = statistics.median(bare), statistics.median(warm)
    print(f"repository: src/ layout, setuptools_scm, 3 dependencies + pytest-cov, {args.tests} tests x "
          f"{args.work_ms} ms")  # fmt: skip
    print(f"environment: {environment.source}, {environment.image}, python {environment.python_version}")
    print(
        f"cold QA run (detect + build from PyPI + 2 runs): {cold_s:6.2f} s  (build {environment.build_s} s)"
    )
    print(f"warm QA run (image cached), median of {args.runs}:   {warm_s:6.2f} s  cache hits {hits}")
    print(f"bare host venv, two pytest runs, median:       {bare_s:6.2f} s")
    print(f"ratio warm / bare: {warm_s / bare_s:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
