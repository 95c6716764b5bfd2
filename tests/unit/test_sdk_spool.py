from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bugtrail.sdk.spool import Op, Spool

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_ops_leave_in_order_only_when_acknowledged_and_survive_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    ids = spool.append([Op("event", "t", f'{{"n":{i}}}', event_id=str(i)) for i in range(5)], {"k": "v"})
    assert ids == sorted(ids) and spool.pending_count() == 5 and spool.get_meta("k") == "v"
    batch = spool.peek(3, 10_000)
    assert [op.event_id for op in batch] == ["0", "1", "2"]
    assert [op.event_id for op in spool.peek(10, 14)] == ["0", "1"]  # byte budget (each body is 7 bytes)
    assert [op.event_id for op in spool.peek(10, 1)] == ["0"]  # always at least one
    spool.ack([batch[0].id, batch[1].id])
    spool.reject(batch[2], 422, "bad")
    spool.close()

    reopened = Spool(tmp_path / "spool.sqlite3")
    assert [op.event_id for op in reopened.peek(10, 10_000)] == ["3", "4"]
    assert reopened.rejected() == [("event", "2", 422, "bad")]
    assert reopened.discard_trace("t") == 2 and reopened.pending_count() == 0


def test_failed_transaction_stores_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    try:
        with spool.transaction() as conn:
            Spool.append_in(conn, [Op("event", "t", "{}")], {"tree": "abc"})
            raise RuntimeError("crash between the events and the tree")
    except RuntimeError:
        pass
    assert spool.pending_count() == 0 and spool.get_meta("tree") is None


WRITER = """
import sys
from bugtrail.sdk.spool import Op, Spool
spool = Spool(sys.argv[1])
for i in range(200):
    spool.append([Op("event", "t", "{}", event_id=f"{sys.argv[2]}-{i}")])
"""


def test_concurrent_processes_append_without_losing_anything(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.sqlite3")
    Spool(path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, path, name], env={"PYTHONPATH": SRC})
        for name in ("a", "b", "c")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    ops = Spool(path).peek(1000, 10**9)
    assert len(ops) == 600
    for name in "abc":  # each writer's events keep their own order
        mine = [op.event_id for op in ops if op.event_id and op.event_id.startswith(name)]
        assert mine == [f"{name}-{i}" for i in range(200)]
