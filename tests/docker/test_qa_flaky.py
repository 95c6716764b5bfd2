"""BUGTRAIL_QA_RERUNS=2 through the real pipeline: a test that fails on odd runs is listed as flaky.

The counter lives in the work tree (the container's /tmp is a fresh tmpfs per run; the tree is kept between
the reruns of a phase), so run 0 passes, run 1 fails, run 2 passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bugtrail.config import Settings
from tests.support.buggy_repo import BuggyRepo, buggy_repo_with, good_fix, submit_and_run

FLAKY_TEST = """from pathlib import Path

COUNTER = Path(__file__).parent / "flaky-counter.txt"


def test_sometimes():
    runs = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(runs + 1))
    assert runs % 2 == 0, "fails on odd runs"
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"qa_reruns": 2})


@pytest.fixture
def flaky_repo(repos_dir: Path) -> BuggyRepo:
    return buggy_repo_with(repos_dir / "flaky", {"tests/test_flaky.py": FLAKY_TEST}, "a flaky test")


def test_flaky_test_is_listed_and_kept_out_of_the_verdict(client, keys, worker, flaky_repo) -> None:
    trace = submit_and_run(client, keys, worker, good_fix(flaky_repo))
    qa: dict[str, Any] = trace["qa_results"]
    assert qa["outcome"] == "completed", qa["error"]
    assert qa["flaky"] == ["tests/test_flaky.py::test_sometimes"]
    assert qa["fail_to_pass"] == ["tests/test_calc.py::test_add"]
    assert "tests/test_flaky.py::test_sometimes" not in qa["pass_to_pass"]
    assert qa["resolved"] is True and qa["before"]["reruns"] == 2
    log_dir = Path(qa["log_dir"])
    for phase in ("before", "after"):  # SWE-bench style fixed names: grading reads them again
        assert (log_dir / phase / "run-1" / "junit.xml").is_file()
        assert (log_dir / phase / "run-2" / "run.json").is_file()
