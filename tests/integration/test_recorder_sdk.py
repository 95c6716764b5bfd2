"""The Python SDK (`from bugtrail import Client`) on a real server: many developers, bad input, bad keys."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bugtrail import Client
from bugtrail.sdk.client import AuthError
from tests.support.recorder import developer_key
from tests.support.server import BugtrailServer

REPO = "https://github.com/example/demo"


def test_developers_in_threads_each_get_their_own_complete_trace(
    server: BugtrailServer, tmp_path: Path
) -> None:
    keys = {name: developer_key(server, name) for name in ("ann", "ben", "cat")}
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def developer(name: str) -> None:
        try:
            with Client(server.url, keys[name], spool_path=tmp_path / f"{name}.sqlite3") as client:
                assert client.whoami()["developer_id"] == name
                trace_id = client.create_trace(
                    repo_url=REPO,
                    bug_description=f"{name}'s bug",
                    base_commit="a" * 40,
                    test_command="pytest",
                )
                for i in range(40):
                    client.edit(
                        trace_id, "src/x.py", f"--- a/src/x.py\n+++ b/src/x.py\n@@ -1 +1 @@\n-{i}\n+{i + 1}\n"
                    )
                    client.command(trace_id, "pytest", output=f"run {i}", exit_code=i % 2, duration_ms=5)
                    if i % 10 == 0:
                        client.flush()
                client.note(trace_id, "done", reasoning_type="outcome", confidence="high")
                client.finalize(trace_id)
                results[name] = client.get_trace(trace_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=developer, args=(name,)) for name in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for name, trace in results.items():
        assert trace["developer_id"] == name and trace["event_count"] == 81
        assert trace["status"] in ("queued", "running", "completed", "failed")
        assert [e["details"].get("output") for e in trace["events"] if e["type"] == "command"] == [
            f"run {i}" for i in range(40)
        ]


def test_one_shared_client_is_thread_safe(server: BugtrailServer, tmp_path: Path) -> None:
    key = developer_key(server, "dan")
    with Client(server.url, key, spool_path=tmp_path / "shared.sqlite3") as client:
        trace_id = client.create_trace(repo_url=REPO, bug_description="shared")

        def worker(n: int) -> None:
            for i in range(30):
                client.note(trace_id, f"{n}-{i}")
                if i % 7 == 0:
                    client.flush()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.flush().pending == 0
        texts = [e["details"]["text"] for e in client.get_trace(trace_id)["events"]]
    assert sorted(texts) == sorted(f"{n}-{i}" for n in range(4) for i in range(30))
    for n in range(4):  # each thread's notes in its own order
        assert [t for t in texts if t.startswith(f"{n}-")] == [f"{n}-{i}" for i in range(30)]


def test_a_refused_op_is_set_aside_and_does_not_block_the_queue(
    server: BugtrailServer, tmp_path: Path
) -> None:
    key = developer_key(server, "eve")
    with Client(server.url, key, spool_path=tmp_path / "eve.sqlite3") as client:
        done = client.create_trace(repo_url=REPO, bug_description="finished already")
        client.finalize(done)
        late = client.note(done, "appended after finalize")  # the server answers 409
        other = client.create_trace(repo_url=REPO, bug_description="still open", flush=False)
        client.note(other, "fine")
        report = client.flush()
        assert report.pending == 0 and len(report.rejected) == 1
        kind, event_id, error = report.rejected[0]
        assert (kind, event_id) == ("event", late) and "409" in error
        assert client.spool.rejected() == [("event", late, 409, error)]
        assert client.get_trace(other)["event_count"] == 1


def test_a_refused_key_keeps_everything_queued(server: BugtrailServer, tmp_path: Path) -> None:
    spool = tmp_path / "bad.sqlite3"
    with Client(server.url, "btk_not_a_key", spool_path=spool) as client:
        trace_id = client.create_trace(repo_url=REPO, bug_description="x", flush=False)
        client.note(trace_id, "kept")
        with pytest.raises(AuthError):
            client.flush()
        assert client.pending() == 2
    with Client(server.url, developer_key(server, "fay"), spool_path=spool) as client:
        assert client.flush().pending == 0
        assert client.get_trace(trace_id)["event_count"] == 1


def test_unreachable_server_backs_off_without_losing_events(tmp_path: Path) -> None:
    with Client("http://127.0.0.1:9", "k", spool_path=tmp_path / "s.sqlite3") as client:
        trace_id = client.create_trace(repo_url=REPO, bug_description="offline")
        client.note(trace_id, "queued")
        first = client.flush(deadline=1.0)
        assert first.pending == 2 and first.error and "cannot reach" in first.error
        assert client.flush(force=False).skipped  # within the backoff window: not even tried
        assert client.pending() == 2


def test_bulk_append_and_a_default_spool_per_server_and_key(
    server: BugtrailServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    key = developer_key(server, "ida")
    with Client(server.url, key) as client, Client(server.url, "btk_other") as other:
        assert client.spool.path != other.spool.path  # never send one developer's ops with another's key
        assert client.spool.path.parent == tmp_path / "state" / "bugtrail"
        trace_id = client.create_trace(repo_url=REPO, bug_description="bulk")
        ids = client.append_events(
            trace_id, [("reasoning", {"text": f"n{i}", "reasoning_type": "plan"}) for i in range(300)]
        )
        assert len(set(ids)) == 300 and client.pending() == 300
        report = client.flush()
        assert report.sent == 300 and report.pending == 0
        events = client.get_trace(trace_id)["events"]
    assert [e["event_id"] for e in events] == ids
