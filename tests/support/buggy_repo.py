"""A local git repository with a real bug (add() subtracts), and traces that try to fix it."""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.repos import git

CALC = """def add(a, b):
    return a - b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b
"""

TESTS = """from calc import add, mul, sub


def test_sub():
    assert sub(5, 3) == 2


def test_mul():
    assert mul(2, 3) == 6
"""

NEW_TEST = (
    TESTS
    + """

def test_add():
    assert add(2, 3) == 5
"""
)

FIXED = CALC.replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b")
WRONG_FIX = CALC.replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a * b")
FIX_BREAKS_SUB = FIXED.replace("def sub(a, b):\n    return a - b", "def sub(a, b):\n    return a + b")


@dataclass
class BuggyRepo:
    path: Path
    base_commit: str

    @property
    def url(self) -> str:
        return f"file://{self.path}"


def make_buggy_repo(path: Path) -> BuggyRepo:
    (path / "tests").mkdir(parents=True)
    (path / "calc.py").write_text(CALC)
    (path / "tests" / "test_calc.py").write_text(TESTS)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", ".")
    git(path, "commit", "-qm", "calc with a bug in add")
    return BuggyRepo(path, git(path, "rev-parse", "HEAD"))


def buggy_repo_with(path: Path, files: dict[str, str], message: str) -> BuggyRepo:
    """The calc repository with `files` (path -> text) committed on top; base_commit is that commit."""
    repo = make_buggy_repo(path)
    for name, text in files.items():
        (repo.path / name).write_text(text)
    git(repo.path, "add", ".")
    git(repo.path, "commit", "-qm", message)
    return BuggyRepo(repo.path, git(repo.path, "rev-parse", "HEAD"))


def diff(file: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{file}", f"b/{file}"))


def edit_event(file: str, old: str, new: str, at: datetime, **extra: Any) -> dict[str, Any]:
    details = {"file": file, "diff": diff(file, old, new), "change": "edit", **extra}
    return {"event_id": str(uuid.uuid4()), "type": "edit", "timestamp": at.isoformat(), "details": details}


def trace_body(
    repo_url: str,
    base_commit: str | None,
    edits: list[tuple[str, str, str]],
    test_command: str | None = None,
    extra_events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A trace: a hypothesis, then the given (file, old, new) edits in order, then an outcome note."""
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    events: list[dict[str, Any]] = [
        {
            "event_id": str(uuid.uuid4()),
            "type": "reasoning",
            "timestamp": start.isoformat(),
            "details": {
                "text": "add() looks like it subtracts; write a failing test first",
                "reasoning_type": "hypothesis",
                "confidence": "medium",
            },
        }
    ]
    for i, (file, old, new) in enumerate(edits, start=1):
        events.append(edit_event(file, old, new, start + timedelta(minutes=i)))
    events.extend(extra_events or [])
    body: dict[str, Any] = {
        "repo_url": repo_url,
        "bug_description": "add(2, 3) returns -1 instead of 5",
        "events": events,
    }
    if base_commit:
        body["base_commit"] = base_commit
    if test_command:
        body["test_command"] = test_command
    return body


def good_fix(repo: BuggyRepo) -> dict[str, Any]:
    return trace_body(
        repo.url,
        repo.base_commit,
        [
            ("tests/test_calc.py", TESTS, NEW_TEST),
            ("calc.py", CALC, FIXED),
        ],
    )


def submit_and_run(client: Any, keys: Any, worker: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST the trace finalized, let the worker run its job, return the trace as the API shows it."""
    created = client.post("/api/traces?finalize=true", json=body, headers=keys.alice)
    assert created.status_code == 201, created.text
    trace_id = created.json()["trace_id"]
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["status"] == "queued"
    assert worker.run_once()
    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice)
    assert got.status_code == 200
    return dict(got.json())


def qa_env(repos_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `bugtrail serve`/`worker` process that runs QA on repositories under repos_dir."""
    return {
        "BUGTRAIL_REPO_ALLOWLIST": f"file://{repos_dir}/",
        "BUGTRAIL_JUDGE": "heuristic",
        "BUGTRAIL_WORKER_POLL_S": "0.2",
        "BUGTRAIL_JOB_RETRY_BASE_S": "0.5",
        **extra,
    }


def edits_trace(
    url: str, commit: str, edits: list[tuple[str, str, str]], start: datetime, bug: str = "add subtracts"
) -> Any:
    """A TraceRead of edit events only ((file, old, new) each, one minute apart), as QA loads a trace."""
    from bugtrail.wire import EventRead, TraceRead

    events = [
        EventRead(
            event_id=uuid.uuid4(),
            seq=i + 1,
            type="edit",
            timestamp=start + timedelta(minutes=i),
            details={"file": file, "diff": diff(file, old, new)},
        )
        for i, (file, old, new) in enumerate(edits)
    ]
    return TraceRead(
        trace_id=uuid.uuid4(),
        developer_id="bench",
        repo_url=url,
        bug_description=bug,
        base_commit=commit,
        test_command="python -m pytest -q",
        status="running",
        event_count=len(events),
        created_at=start,
        updated_at=start,
        events=events,
    )
