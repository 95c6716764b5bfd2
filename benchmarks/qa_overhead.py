"""QA overhead: a QA run (checkout + edits + two container runs + grading) vs the same two test runs bare.

Builds a local repository whose test suite takes a few seconds (CPU-bound tests), a trace that adds a
failing test and fixes the bug, then measures:
  - bare: `python -m pytest -q` on the host in the "before" tree and the "after" tree (two runs);
  - QA: replay_trace() with a warm clone cache (what a worker does after the first trace of a repo);
  - setup: clone cache cold (first trace of a repo: clone the mirror, check out) vs warm (second trace).
Targets: QA / bare <= 1.5 for a suite taking >= 5 s bare; warm setup < 1 s.

    python benchmarks/qa_overhead.py [--tests 24] [--work-ms 220] [--filler-files 3000] [--runs 3]
Needs a Docker daemon and the runner image (scripts/setup-docker.sh; bugtrail runner build-image).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from bugtrail.qa.workspace import checkout, ensure_mirror  # noqa: E402
from bugtrail.wire import TraceRead  # noqa: E402
from tests.support.repos import head, make_repo  # noqa: E402
from tests.support.slow_suites import bare_trees, burn_suite, fix_trace  # noqa: E402

CALC = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def slow_repo(path: Path, tests: int, work_ms: int, filler: int) -> tuple[str, str]:
    """calc.py, the slow suite and `filler` small modules (a checkout of some size); (commit, suite)."""
    suite = burn_suite(tests, work_ms, "from calc import add")
    files: dict[str, str | bytes] = {"calc.py": CALC, "tests/test_slow.py": suite}
    files |= {f"vendor/module_{i}.py": f"VALUE_{i} = {i}\n" * 40 for i in range(filler)}
    return head(make_repo(path, files, "base")), suite


def bare_runs(origin: Path, commit: str, trace: TraceRead, scratch: Path, plugins: bool = True) -> float:
    """The same two runs on the host: before tree (test edits only) and after tree (all edits)."""
    trees = bare_trees(origin, commit, trace, scratch)
    # The host's pytest may autoload many plugins (this dev machine: ~1.8 s per start); the runner image
    # has none, so the plugin-free bare run is the like-for-like baseline.
    env = {**os.environ, **({} if plugins else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})}
    started = time.monotonic()
    for tree in trees:
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=tree,
            capture_output=True,
            check=False,
            env=env,
        )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tests", type=int, default=24)
    parser.add_argument("--work-ms", type=int, default=220)
    parser.add_argument("--filler-files", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bugtrail-qa-bench-") as tmp_name:
        tmp = Path(tmp_name)
        origin = tmp / "repos" / "slow"
        commit, suite = slow_repo(origin, args.tests, args.work_ms, args.filler_files)
        url = f"file://{origin}"
        settings = Settings(data_dir=tmp / "data", repo_allowlist=f"file://{tmp}/repos/", test_timeout_s=600)
        trace = fix_trace(url, commit, ("tests/test_slow.py", suite), ("calc.py", CALC, FIXED))

        # Clone cache: cold (first trace of the repo) vs warm (every later trace).
        cold: list[float] = []
        warm: list[float] = []
        for run in range(args.runs):
            shutil.rmtree(settings.resolved_clone_cache_dir, ignore_errors=True)
            started = time.monotonic()
            mirror = ensure_mirror(settings, url, commit)
            checkout(mirror, commit, tmp / f"cold-{run}")
            cold.append(time.monotonic() - started)
            started = time.monotonic()
            mirror = ensure_mirror(settings, url, commit)
            checkout(mirror, commit, tmp / f"warm-{run}")
            warm.append(time.monotonic() - started)

        bare = [bare_runs(origin, commit, trace, tmp / f"bare-{run}") for run in range(args.runs)]
        bare_plain = [
            bare_runs(origin, commit, trace, tmp / f"bare-plain-{run}", plugins=False)
            for run in range(args.runs)
        ]
        qa: dict[bool, list[float]] = {True: [], False: []}
        setup: list[float] = []
        for run in range(args.runs):
            for parallel in (True, False):
                mode = settings.model_copy(update={"qa_parallel_phases": parallel})
                started = time.monotonic()
                result = replay_trace(mode, trace, tmp / "logs" / f"{run}-{parallel}")
                qa[parallel].append(time.monotonic() - started)
                setup.append(result.setup_s)
                assert result.verdict is not None and result.verdict.resolved, result

    bare_s, plain_s = statistics.median(bare), statistics.median(bare_plain)
    parallel_s, sequential_s = statistics.median(qa[True]), statistics.median(qa[False])
    print(f"repository: {args.tests} CPU-bound tests x {args.work_ms} ms, {args.filler_files} filler files")
    print(f"bare host, two pytest runs, plugins autoloaded: {bare_s:6.2f} s  (median of {args.runs})")
    print(f"bare host, two pytest runs, no plugins:         {plain_s:6.2f} s  <- baseline")
    for label, value in (("in parallel (default)", parallel_s), ("one after the other  ", sequential_s)):
        print(f"QA run, phases {label}:         {value:6.2f} s  ratio {value / plain_s:.2f}")
    print(f"QA setup (clone cache warm, 2 trees + edits):   {statistics.median(setup):6.2f} s")
    print("target: ratio <= 1.5 when bare >= 5 s")
    print(f"checkout, clone cache cold (clone + checkout):   {statistics.median(cold):6.3f} s")
    print(f"checkout, clone cache warm (checkout only):     {statistics.median(warm):6.3f} s  (target < 1 s)")
    saved = statistics.median(cold) - statistics.median(warm)
    print(f"saved by the cache on a later trace:            {saved:6.3f} s")


if __name__ == "__main__":
    main()
