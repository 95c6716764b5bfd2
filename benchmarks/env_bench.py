"""Environment benchmark: QA of a real bug fix whose tests need third-party packages.

For one real case (tests/support/real_cases.py; default arrow: python-dateutil, pytest-cov from its addopts,
pytz, simplejson, dateparser), through a real `bugtrail serve` with its embedded worker and real Docker:
  - cold: the environment image is removed first, so QA builds it (real installs from the package registries);
  - warm: further traces of the same repository (the image is cached): QA time per trace;
  - bare: the same two test runs (base + test edit, then + source edit) on the host in a ready virtualenv.
Reports the cold build time, warm QA time vs bare (target <= 1.5), and the cache hit on the second trace.

    python benchmarks/env_bench.py [--case arrow] [--runs 3]
Needs a Docker daemon, the runner image, the mirror of the case's repository (the fetch tool) and the
package registries (only for the cold build and the host virtualenv).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bugtrail.config import Settings  # noqa: E402
from tests.support.real_cases import CASES_BY_NAME, MIRROR_ROOT, RealCase, file_url  # noqa: E402
from tests.support.real_traces import (  # noqa: E402
    QaServer,
    apply_diff,
    describe,
    developer_checkout,
    developer_venv,
    file_diff,
    require_mirror,
    start_qa_server,
    submit,
    trace_from_history,
    wait_for_qa,
)
from tests.support.recorder import developer_key  # noqa: E402


def qa_once(server: QaServer, key: str, case: RealCase) -> tuple[dict[str, Any], float]:
    """One trace through the API; returns its QA result and the wall time from submission to verdict."""
    started = time.monotonic()
    trace = wait_for_qa(server.url, key, submit(server.url, key, trace_from_history(case)), timeout=1800)
    wall = time.monotonic() - started
    qa: dict[str, Any] = trace["qa_results"]
    if qa.get("resolved") is not True:
        raise SystemExit(f"QA did not resolve the {case.name} fix:\n{describe(qa)}")
    return qa, wall


def remove_environment_images(repo_url: str) -> int:
    """Remove every environment image built for this repository (any plan, any run), so the next build
    cannot take a cached layer from a sibling image; images of other repositories are left alone."""
    ids = subprocess.run(
        ["docker", "images", "-q", "--filter", f"label=bugtrail.env.repo={repo_url}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for image_id in sorted(set(ids)):
        subprocess.run(["docker", "rmi", "-f", image_id], capture_output=True, check=False)
    return len(set(ids))


def bare_runs(case: RealCase, work: Path, runs: int) -> list[float]:
    """The two test runs QA makes, on the host in a ready virtualenv (its set-up is not timed)."""
    checkout = developer_checkout(case, work / "checkout")
    venv = developer_venv(case, checkout, work / "venv")
    argv = [str(venv / "bin" / "python"), *case.test_command.split()[1:], "-p", "no:cacheprovider"]
    totals = []
    for _ in range(runs):
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=checkout, check=True)
        total = 0.0
        for files in (case.test_files, case.source_files):
            for path in files:
                apply_diff(checkout, file_diff(case, path))
            started = time.monotonic()
            subprocess.run(argv, cwd=checkout, capture_output=True, check=False)
            total += time.monotonic() - started
        totals.append(total)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", default="arrow", choices=sorted(CASES_BY_NAME))
    parser.add_argument("--runs", type=int, default=3, help="warm QA traces and bare host repetitions")
    args = parser.parse_args()
    case = CASES_BY_NAME[args.case]
    require_mirror(case)
    runner_image = Settings().runner_image

    with tempfile.TemporaryDirectory(prefix="env-bench-") as tmp:
        work = Path(tmp)
        server = start_qa_server(work / "data", [f"{file_url(MIRROR_ROOT)}/"], runner_image, 600)
        try:
            key = developer_key(server, "bench")
            removed = remove_environment_images(case.repo_url)
            cold, cold_wall = qa_once(server, key, case)
            assert cold["environment"]["cache_hit"] is False, cold["environment"]
            warm = [qa_once(server, key, case) for _ in range(args.runs)]
        finally:
            server.stop()
        bare = bare_runs(case, work, args.runs)

    warm_wall = statistics.median(w for _, w in warm)
    warm_tests = statistics.median(q["tests_wall_s"] for q, _ in warm)
    bare_median = statistics.median(bare)
    env = cold["environment"]
    print(f"case: {case.repo} @ {case.fix_commit[:12]} ({case.test_command})")
    print(f"environment images of this repository removed before the cold build: {removed}")
    print(f"environment: source={env['source']} python={env['python_version']} image={env['image']}")
    print(f"plan packages: {len(env['plan']['packages'])}, commands: {len(env['plan']['commands'])}")
    print(f"cold: build {env['build_s']:.1f} s, whole QA (submit -> verdict) {cold_wall:.1f} s")
    print(
        f"warm QA (image cached), median of {args.runs}: {warm_wall:.1f} s submit -> verdict, "
        f"two container test runs {warm_tests:.1f} s"
    )
    print(f"bare host, two test runs in a ready virtualenv, median of {args.runs}: {bare_median:.1f} s")
    print(
        f"ratio warm QA / bare: {warm_wall / bare_median:.2f} (target <= 1.5); "
        f"container runs / bare: {warm_tests / bare_median:.2f}"
    )
    hits = [q["environment"]["cache_hit"] for q, _ in warm]
    print(f"cache hit on the second trace: {hits[0]} (all warm traces: {hits})")


if __name__ == "__main__":
    main()
