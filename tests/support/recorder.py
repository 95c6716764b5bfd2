"""Recorder test helpers: a scratch git repo, the CLI as a subprocess, replaying a trace's edits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.repos import git
from tests.support.server import SRC_DIR, BugtrailServer, cli_environment

SRC = str(SRC_DIR)


def cli_env(server_url: str, api_key: str | None, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGTRAIL_")}
    env.update(
        PYTHONPATH=SRC,
        BUGTRAIL_SERVER=server_url,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # the wrapped pytest runs start in a fraction of the time
    )
    if api_key:
        env["BUGTRAIL_API_KEY"] = api_key
    return env


# The CLI as this checkout runs it; a test of an installed copy passes that copy's `bugtrail` instead.
THIS_CHECKOUT = (sys.executable, "-m", "bugtrail")


def bugtrail(
    repo: Path,
    env: dict[str, str],
    *args: str,
    input: bytes | None = None,
    timeout: float = 300,
    program: Sequence[str] = THIS_CHECKOUT,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*program, *args],
        cwd=repo,
        env=env,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def developer_key(server: BugtrailServer, developer: str = "dana") -> str:
    """A developer key made with the keys CLI on the server's data directory."""
    env = cli_environment(BUGTRAIL_DATA_DIR=str(server.data_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "bugtrail", "keys", "create", "--developer", developer, "--role", "developer"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.strip()


def session_trace_id(repo: Path) -> str:
    import json
    import sqlite3

    conn = sqlite3.connect(repo / ".git" / "bugtrail" / "spool.sqlite3")
    try:
        row = conn.execute(
            "SELECT value FROM meta WHERE key IN ('session', 'last_session') ORDER BY key DESC"
        )
        return str(json.loads(row.fetchone()[0])["trace_id"])
    finally:
        conn.close()


def work_tree_files(root: Path) -> dict[str, bytes]:
    """Every file git would see (tracked or untracked, not ignored), with its content; bytecode and pytest
    caches excluded, as the recorder excludes them."""
    names = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    junk = ("__pycache__/", ".pytest_cache/")
    return {
        n: (root / n).read_bytes()
        for n in names
        if n
        and (root / n).is_file()
        and not any(j in f"/{n}" for j in junk)
        and not n.endswith((".pyc", ".pyo"))
    }


def replay(
    origin: Path, base_commit: str, events: list[dict[str, Any]], into: Path, shared: bool = False
) -> Path:
    """Check out base_commit from origin and `git apply` every edit in order, exactly as QA does.

    shared=True borrows origin's object database (a worktree), which lets header-only binary edits apply.
    """
    if shared:
        git(origin, "worktree", "add", "-q", "--detach", str(into), base_commit)
    else:
        git(into.parent, "clone", "-q", "--no-local", str(origin), str(into))
        git(into, "checkout", "-q", "--detach", base_commit)
    for event in events:
        if event["type"] != "edit":
            continue
        proc = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            cwd=into,
            input=event["details"]["diff"].encode(),
            capture_output=True,
            check=False,
        )
        assert proc.returncode == 0, f"edit of {event['details']['file']} did not apply: {proc.stderr!r}"
    return into


BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]


def get_trace(server: BugtrailServer, key: str, trace_id: str) -> dict:
    response = httpx.get(f"{server.url}/api/traces/{trace_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


def run_session(
    repo: Path, env: dict[str, str], between: object | None = None, program: Sequence[str] = THIS_CHECKOUT
) -> list[tuple[str, int]]:
    """start, edit, failing pytest, hypothesis, edit, passing pytest, outcome, finish; returns (step, rc)."""
    steps: list[tuple[str, int]] = []

    def step(name: str, *args: str) -> None:
        proc = bugtrail(repo, env, *args, program=program)
        steps.append((name, proc.returncode))
        if callable(between):
            between(name)

    step("start", "start", "--bug", "add() subtracts", "--test-command", "python -m pytest -q")
    (repo / "tests" / "test_calc.py").write_text(
        TEST + "\n\ndef test_add_zero():\n    assert add(0, 4) == 4\n"
    )
    step("run-fail", "run", "--", *PYTEST)
    step("hypothesis", "note", "--type", "hypothesis", "--confidence", "high", "add() uses - instead of +")
    (repo / "calc.py").write_text(BUGGY.replace("a - b", "a + b"))
    step("run-pass", "run", "--", *PYTEST)
    step("outcome", "note", "--type", "outcome", "--refers-to", "last-command", "both tests pass now")
    step("finish", "finish")
    return steps
