"""Durability: the server down halfway through a session, resends after a lost acknowledgement, kill -9."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.recorder import (
    BUGGY,
    SRC,
    TEST,
    bugtrail,
    cli_env,
    developer_key,
    get_trace,
    replay,
    run_session,
    session_trace_id,
    work_tree_files,
)
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer


def test_server_down_halfway_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data").start()
    key = developer_key(server)
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": TEST})
    env = cli_env(server.url, key, tmp_path)
    try:

        def stop_after_hypothesis(step: str) -> None:
            if step == "hypothesis":
                server.stop()

        steps = run_session(repo, env, between=stop_after_hypothesis)
        # Exit codes pass through with the server down; finish succeeds locally and says how to catch up.
        assert [rc for _, rc in steps] == [0, 1, 0, 0, 0, 0]
        offline = bugtrail(repo, env, "status")
        assert b"queued locally" in offline.stdout and b"all sent" not in offline.stdout
        assert bugtrail(repo, env, "sync").returncode == 1  # still down: says so, keeps everything

        server = BugtrailServer(tmp_path / "data", port=server.port).start()
        synced = bugtrail(repo, env, "sync")
        assert synced.returncode == 0, synced.stderr
        trace = get_trace(server, key, session_trace_id(repo))
        assert trace["status"] != "pending"  # the spooled finalize went through too
        assert [e["type"] for e in trace["events"]] == [
            "edit",
            "command",
            "reasoning",
            "edit",
            "command",
            "reasoning",
        ]
        assert len({e["event_id"] for e in trace["events"]}) == 6
        assert "2 passed" in trace["events"][4]["details"]["output"]
        replayed = replay(repo, trace["base_commit"], trace["events"], tmp_path / "replay")
        assert work_tree_files(replayed) == work_tree_files(repo)
    finally:
        server.stop()


def test_resend_after_lost_acknowledgement_is_deduplicated(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data").start()
    try:
        from bugtrail.sdk.client import Client

        key = developer_key(server)
        spool = tmp_path / "spool.sqlite3"
        with Client(server.url, key, spool_path=spool) as client:
            trace_id = client.create_trace(
                repo_url="https://github.com/example/demo", bug_description="x", flush=False
            )
            for i in range(25):
                client.note(trace_id, f"note {i}")
        # Keep a copy of the spool as it was before sending: restoring it after the send is exactly what a
        # crash between "server stored it" and "client deleted it" leaves behind.
        shutil.copy(spool, tmp_path / "before.sqlite3")
        with Client(server.url, key, spool_path=spool) as client:
            first = client.flush()
        assert first.sent == 26 and first.pending == 0
        shutil.copy(tmp_path / "before.sqlite3", spool)
        for suffix in ("-wal", "-shm"):
            Path(f"{spool}{suffix}").unlink(missing_ok=True)
        with Client(server.url, key, spool_path=spool) as client:
            second = client.flush()
            assert second.pending == 0 and second.duplicates == 25 and not second.rejected
            trace = client.get_trace(trace_id)
        assert trace["event_count"] == 25
        assert [e["details"]["text"] for e in trace["events"]] == [f"note {i}" for i in range(25)]
    finally:
        server.stop()


FLUSHER = """
import sys
from bugtrail.sdk.client import Client
client = Client(sys.argv[1], sys.argv[2], spool_path=sys.argv[3], max_batch_events=int(sys.argv[4]))
print("flushing", flush=True)
while client.pending():
    client.flush()
"""


def test_kill_9_while_sending_loses_nothing(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data").start()
    try:
        from bugtrail.sdk.client import Client

        key = developer_key(server)
        spool = tmp_path / "spool.sqlite3"
        total = 3000
        with Client(server.url, key, spool_path=spool) as client:
            trace_id = client.create_trace(
                repo_url="https://github.com/example/demo", bug_description="x", flush=False
            )
            for i in range(total):
                client.note(trace_id, f"step {i}")
        proc = subprocess.Popen(
            [sys.executable, "-c", FLUSHER, server.url, key, str(spool), "20"],
            env={"PYTHONPATH": SRC},
            stdout=subprocess.PIPE,
        )
        headers = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline:  # kill it in the middle of sending
            response = httpx.get(f"{server.url}/api/traces/{trace_id}", headers=headers)
            count = response.json()["event_count"] if response.status_code == 200 else 0
            if count > 200:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 0 < count < total, "the flusher must be killed mid-way for this test to mean anything"

        with Client(server.url, key, spool_path=spool) as client:
            report = client.flush(deadline=None)
            assert report.pending == 0 and not report.rejected
            trace = client.get_trace(trace_id)
        assert trace["event_count"] == total
        assert [e["details"]["text"] for e in trace["events"]] == [f"step {i}" for i in range(total)]
    finally:
        server.stop()
