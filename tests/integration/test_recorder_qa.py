"""The whole loop: a session recorded with the CLI, verified by the real QA worker in Docker.

Proves that what the recorder captures (per-file diffs against the last recorded state) is exactly what the
QA runner can replay at base_commit, and that `bugtrail finish --wait` prints the verdict.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.recorder import bugtrail, cli_env, developer_key, get_trace, session_trace_id
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer

pytestmark = pytest.mark.docker

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
NEW_TEST = TESTS.replace("import mul", "import add, mul") + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def test_recorded_session_is_resolved_by_qa(tmp_path: Path, runner_image: str) -> None:
    repos = tmp_path / "repos"
    server = BugtrailServer(
        tmp_path / "data",
        worker=True,
        env={
            "BUGTRAIL_REPO_ALLOWLIST": f"file://{repos}/",
            "BUGTRAIL_RUNNER_IMAGE": runner_image,
            "BUGTRAIL_JUDGE": "heuristic",
            "BUGTRAIL_TEST_TIMEOUT_S": "120",
            "BUGTRAIL_WORKER_POLL_S": "0.2",
        },
    ).start()
    try:
        key = developer_key(server)
        repo = make_repo(repos / "calc", {"calc.py": CALC, "tests/test_calc.py": TESTS})
        env = cli_env(server.url, key, tmp_path)
        pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        assert (
            bugtrail(repo, env, "start", "--bug", "add() subtracts", "-t", "python -m pytest -q").returncode
            == 0
        )
        (repo / "tests" / "test_calc.py").write_text(NEW_TEST)
        assert bugtrail(repo, env, "run", "--", *pytest_cmd).returncode == 1
        assert bugtrail(repo, env, "note", "-t", "hypothesis", "add uses minus").returncode == 0
        (repo / "calc.py").write_text(CALC.replace("a - b", "a + b"))
        assert bugtrail(repo, env, "run", "--", *pytest_cmd).returncode == 0
        assert bugtrail(repo, env, "note", "-t", "outcome", "-r", "last-command", "add fixed").returncode == 0

        finished = bugtrail(repo, env, "finish", "--wait", "--timeout", "300")
        assert finished.returncode == 0, finished.stderr
        assert b"tests passed, resolved: yes" in finished.stdout, finished.stdout
        qa = get_trace(server, key, session_trace_id(repo))["qa_results"]
        assert qa["tests_passed"] is True and qa["resolved"] is True
        assert any("test_add" in test for test in qa["fail_to_pass"])
    finally:
        server.stop()
