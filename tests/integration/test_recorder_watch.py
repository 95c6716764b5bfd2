"""`bugtrail watch` snapshots saved files on its own and stops when the session is finished elsewhere."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.recorder import bugtrail, cli_env, developer_key, get_trace, session_trace_id
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer


def test_watch_records_saves_debounced_and_exits_after_finish(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data").start()
    watcher = None
    try:
        key = developer_key(server)
        repo = make_repo(tmp_path / "repo", {"a.txt": "0\n"})
        env = cli_env(server.url, key, tmp_path)
        assert bugtrail(repo, env, "start", "--bug", "watch me").returncode == 0
        watcher = subprocess.Popen(
            [sys.executable, "-m", "bugtrail", "watch", "--quiet-seconds", "1.0"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(2.0)  # let the observer start
        for i in range(20):  # a burst of saves: debounced into one snapshot
            (repo / "a.txt").write_text(f"{i}\n")
            time.sleep(0.01)
        trace_id = session_trace_id(repo)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and get_trace(server, key, trace_id)["event_count"] < 1:
            time.sleep(0.2)
        events = get_trace(server, key, trace_id)["events"]
        assert len(events) == 1 and "+19" in events[0]["details"]["diff"]

        assert bugtrail(repo, env, "finish").returncode == 0
        out, _ = watcher.communicate(timeout=30)  # noticed the session ended, exited on its own
        assert watcher.returncode == 0 and b"Recorded 1 edit" in out and b"Stopped watching" in out
    finally:
        if watcher and watcher.poll() is None:
            watcher.kill()
        server.stop()
