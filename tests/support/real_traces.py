"""Traces rebuilt from real repositories' history, and the developer's side of recording one.

Used by tests/realrepos and benchmarks/env_bench.py. Nothing here stores a repository's code: the diffs are
read from the local mirror at run time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support.real_cases import RealCase
from tests.support.recorder import SRC, bugtrail, session_trace_id
from tests.support.server import BugtrailServer as QaServer

TERMINAL_STATUSES = ("completed", "failed")


class MirrorMissing(RuntimeError):
    pass


def require_mirror(case: RealCase) -> Path:
    """The case's mirror, or an error naming the repository to fetch (tests turn it into a failure)."""
    head = case.mirror / "HEAD"
    if not head.is_file():
        raise MirrorMissing(
            f"no mirror of {case.repo} at {case.mirror}: fetch github:{case.repo} with the fetch tool "
            f"(or set BUGTRAIL_TEST_MIRROR_DIR to the directory holding <owner>+<name>/repo)"
        )
    probe = subprocess.run(
        ["git", "--git-dir", str(case.mirror), "cat-file", "-e", f"{case.fix_commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        raise MirrorMissing(
            f"the mirror of {case.repo} lacks {case.fix_commit}: fetch github:{case.repo} again"
        )
    return case.mirror


def start_qa_server(
    data_dir: Path,
    allowlist: list[str],
    runner_image: str,
    timeout_s: int,
    extra_env: dict[str, str] | None = None,
) -> QaServer:
    """A real `bugtrail serve` whose embedded worker runs QA (heuristic judge) on the allowlisted URLs."""
    return QaServer(
        data_dir,
        env={
            "BUGTRAIL_REPO_ALLOWLIST": ",".join(allowlist),
            "BUGTRAIL_RUNNER_IMAGE": runner_image,
            "BUGTRAIL_JUDGE": "heuristic",
            "BUGTRAIL_TEST_TIMEOUT_S": str(timeout_s),
            "BUGTRAIL_WORKER_POLL_S": "0.2",
            **(extra_env or {}),
        },
        worker=True,
    ).start()


def mirror_or_fail(case: RealCase) -> Path:
    """The case's mirror; a missing one FAILS the test (never skips), naming the repository to fetch."""
    import pytest

    try:
        return require_mirror(case)
    except MirrorMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def file_diff(case: RealCase, path: str) -> str:
    """The fix commit's diff of one file, as git prints it (a/ b/ prefixes), read from the mirror."""
    out = subprocess.run(
        ["git", "--git-dir", str(case.mirror), "diff", case.base_commit, case.fix_commit, "--", path],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out, f"{case.repo}: {path} is not changed by {case.fix_commit}"
    return out


def _event(kind: str, at: datetime, details: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind, "timestamp": at.isoformat(), "details": details}


def edit_event(case: RealCase, path: str, at: datetime) -> dict[str, Any]:
    return _event("edit", at, {"file": path, "diff": file_diff(case, path), "change": "edit"})


def trace_from_history(case: RealCase, repo_url: str | None = None) -> dict[str, Any]:
    """The fix as a developer's trace: a hypothesis, the test edit(s), a note, the source edit(s) (one file
    per edit event), an outcome note, and the repository's own narrow test command. No environment."""
    clock = iter(datetime(2026, 11, 30, 9, 0, tzinfo=UTC) + timedelta(minutes=i) for i in range(100))
    events = [
        _event(
            "reasoning",
            next(clock),
            {"text": f"Suspect: {case.bug}. Reproduce with a test first.", "reasoning_type": "hypothesis"},
        )
    ]
    for path in case.test_files:
        events.append(edit_event(case, path, next(clock)))
    events.append(
        _event(
            "reasoning",
            next(clock),
            {"text": "The new test fails at the base; now fix the code.", "reasoning_type": "observation"},
        )
    )
    for path in case.source_files:
        events.append(edit_event(case, path, next(clock)))
    events.append(
        _event(
            "reasoning",
            next(clock),
            {"text": "The new test passes with the fix.", "reasoning_type": "outcome", "confidence": "high"},
        )
    )
    return {
        "repo_url": repo_url or case.repo_url,
        "bug_description": case.bug,
        "base_commit": case.base_commit,
        "test_command": case.test_command,
        "events": events,
    }


def trace_with_test_runs(case: RealCase) -> dict[str, Any]:
    """The fix as a recorded session with its test runs (command events): the test edit(s), a run (the new
    test fails), the source edit(s), a run (it passes), and the same run once more, as developers do."""
    body = trace_from_history(case)
    events: list[dict[str, Any]] = body["events"]

    def run_after(index: int, exit_code: int) -> dict[str, Any]:
        at = datetime.fromisoformat(events[index]["timestamp"]) + timedelta(seconds=30)
        output = "1 failed" if exit_code else "all passed"
        details = {"command": case.test_command, "output": output, "exit_code": exit_code}
        return _event("command", at, details)

    last_test_edit = len(case.test_files)  # events: the hypothesis, then the test edit(s)
    events.insert(last_test_edit + 1, run_after(last_test_edit, 1))
    events.append(run_after(len(events) - 1, 0))
    events.append(run_after(len(events) - 1, 0))
    return body


def submit(server_url: str, key: str, body: dict[str, Any]) -> str:
    created = httpx.post(
        f"{server_url}/api/traces?finalize=true",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["trace_id"])


def wait_for_qa(server_url: str, key: str, trace_id: str, timeout: float = 900) -> dict[str, Any]:
    """Poll the trace until QA has finished with it; return the trace as the API shows it."""
    deadline = time.monotonic() + timeout
    while True:
        got = httpx.get(
            f"{server_url}/api/traces/{trace_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert got.status_code == 200, got.text
        trace: dict[str, Any] = got.json()
        if trace["status"] in TERMINAL_STATUSES and trace.get("qa_results"):
            return trace
        if time.monotonic() > deadline:
            raise TimeoutError(f"QA of {trace_id} not finished after {timeout}s (status {trace['status']})")
        time.sleep(0.5)


def describe(qa: dict[str, Any] | None) -> str:
    """What to print when a real case is not graded as expected."""
    if not qa:
        return "no qa_results"
    keep = (
        "outcome",
        "error_kind",
        "error",
        "resolved",
        "tests_passed",
        "fail_to_pass",
        "failed_after",
        "pass_to_fail",
        "environment",
        "patch_report",
    )
    summary = {k: qa.get(k) for k in keep}
    return f"{summary}\n--- test output (tail) ---\n{str(qa.get('test_output') or '')[-3000:]}"


# --- the developer's side: their own virtualenv and the recorder --------------------------------------------


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode(errors="replace")


def developer_checkout(case: RealCase, into: Path) -> Path:
    """A clone of the mirror (origin = its file:// URL, as the trace's repo_url) at the base commit."""
    run(["git", "clone", "-q", case.repo_url, str(into)], cwd=into.parent)
    run(["git", "checkout", "-q", "--detach", case.base_commit], cwd=into)
    return into


def developer_venv(case: RealCase, checkout: Path, venv: Path) -> Path:
    """The developer's own virtualenv: the project installed from the checkout plus its test tools."""
    run([sys.executable, "-m", "venv", str(venv)], cwd=checkout)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, *case.developer_install], cwd=checkout)
    return venv


def recorder_env(server_url: str, key: str, home: Path, venv: Path) -> dict[str, str]:
    """The developer's shell with the virtualenv activated; bugtrail itself runs from this checkout's src.

    Unlike tests.support.recorder.cli_env, pytest plugin autoload stays on: the repositories' own addopts
    need their plugins (pytest-cov, pytest-asyncio)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUGTRAIL_", "PYTEST_", "PYTHON"))}
    env.update(
        PYTHONPATH=SRC,
        BUGTRAIL_SERVER=server_url,
        BUGTRAIL_API_KEY=key,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONDONTWRITEBYTECODE="1",
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def apply_diff(checkout: Path, diff: str) -> None:
    proc = subprocess.run(
        ["git", "apply", "-"], cwd=checkout, input=diff.encode(), capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def record_fix(case: RealCase, checkout: Path, env: dict[str, str]) -> str:
    """Debug the case as a developer would, through the recorder: start, write the test, run it (fails), fix,
    run it again, finish. Returns the trace id."""
    test_argv = [*case.test_command.split(), "-p", "no:cacheprovider"]

    def verb(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess[bytes]:
        done = bugtrail(checkout, env, *args)
        if expect is not None:
            assert done.returncode == expect, f"bugtrail {args[0]}: {done.stderr.decode(errors='replace')}"
        return done

    verb("start", "--bug", case.bug, "-t", case.test_command)
    for path in case.test_files:
        apply_diff(checkout, file_diff(case, path))
    before = verb("run", "--", *test_argv, expect=None)
    assert before.returncode != 0, f"the new test should fail at the base: {before.stdout[-2000:]!r}"
    verb("note", "-t", "hypothesis", f"Suspect: {case.bug}")
    for path in case.source_files:
        apply_diff(checkout, file_diff(case, path))
    # Not asserted: arrow's own addopts (--cov-fail-under=99) fail a narrow run whose tests all pass.
    verb("run", "--", *test_argv, expect=None)
    verb("note", "-t", "outcome", "-r", "last-command", "fixed; the new test passes")
    finished = verb("finish", expect=None)
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    return session_trace_id(checkout)
