"""Recorder test helpers: a scratch git repo, the CLI as a subprocess, replaying a trace's edits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.server import ServerProcess

SRC = str(Path(__file__).resolve().parents[2] / "src")


def sh(cwd: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, input=input, capture_output=True, check=False)
    assert proc.returncode == 0, f"{args} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode()


def make_repo(path: Path, files: dict[str, str | bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "config", "user.email", "dev@example.org")
    sh(path, "git", "config", "user.name", "Dev")
    write_files(path, files)
    sh(path, "git", "add", "-A")
    sh(path, "git", "commit", "-q", "-m", "initial")
    return path


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


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


def bugtrail(
    repo: Path, env: dict[str, str], *args: str, input: bytes | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bugtrail", *args],
        cwd=repo,
        env=env,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def developer_key(server: ServerProcess, developer: str = "dana") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGTRAIL_")}
    env.update(BUGTRAIL_DATA_DIR=str(server.data_dir), PYTHONPATH=SRC)
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
    names = sh(root, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
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
        sh(origin, "git", "worktree", "add", "-q", "--detach", str(into), base_commit)
    else:
        sh(into.parent, "git", "clone", "-q", "--no-local", str(origin), str(into))
        sh(into, "git", "checkout", "-q", "--detach", base_commit)
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
