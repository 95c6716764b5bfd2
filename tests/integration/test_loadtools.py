"""The load benchmarks' own instruments can fail: the exactly-once check finds missing and duplicated
events in a real database, and the server CPU meter sees a child process's CPU."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import insert, select

from bugtrail.db.engine import Database
from bugtrail.db.models import Event
from tests.support.loadtools import check_exactly_once, cpu_by_process, program_name, tree_cpu_seconds
from tests.support.seed import add_trace


def test_exactly_once_check_counts_missing_and_duplicated_events(database: Database) -> None:
    url = database.settings.resolved_database_url
    with database.scope() as session:
        traces = {add_trace(session, index=0, qa=None), add_trace(session, index=1, qa=None)}
    with database.engine.connect() as conn:
        stored = [str(row.event_id) for row in conn.execute(select(Event.event_id))]
    assert len(stored) >= 4

    clean = check_exactly_once(url, stored)
    assert clean.passed and clean.acked == clean.stored_once == len(stored) and clean.missing == 0
    assert "PASS" in clean.describe()

    lost = check_exactly_once(url, [*stored, "00000000-0000-4000-8000-000000000000"])
    assert not lost.passed and lost.missing == 1 and lost.stored_once == len(stored)
    assert "1 missing" in lost.describe() and "FAIL" in lost.describe()

    # The same event stored twice (in another trace: the unique key is per trace) is a duplicate.
    with database.engine.begin() as conn:
        row = conn.execute(select(Event).where(Event.event_id == stored[0])).mappings().one()
        copy = {k: v for k, v in row.items() if k != "id"}
        (other,) = traces - {row["trace_id"]}
        conn.execute(insert(Event), [dict(copy, trace_id=other, seq=999)])
    twice = check_exactly_once(url, stored)
    assert not twice.passed and twice.duplicated == 1 and twice.stored_once == len(stored) - 1


BURN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(5)"
SPAWN = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {BURN!r}])\ntime.sleep(10)"


def test_server_cpu_meter_includes_child_processes() -> None:
    # A parent that sleeps while its child burns CPU: only a meter that walks the tree sees the work.
    parent = subprocess.Popen([sys.executable, "-c", SPAWN])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and tree_cpu_seconds(parent.pid) < 0.4:
            time.sleep(0.1)
        split = cpu_by_process(parent.pid)
        assert len(split) == 2, split
        assert split[parent.pid] < 0.3 and sum(split.values()) >= 0.4, split
    finally:
        for pid in reversed(list(cpu_by_process(parent.pid))):  # the processes this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(10)


def test_busy_process_names_say_what_runs() -> None:
    assert program_name([b"/usr/bin/python3.11", b"-m", b"pytest", b"-q", b""]) == "pytest"
    assert (
        program_name([b"python", b"-B", b"/w/benchmarks/export_bench.py", b"--traces", b"5"])
        == "export_bench.py"
    )
    assert program_name([b"/usr/sbin/dockerd", b"--bridge=none"]) == "dockerd"
    assert program_name([b"chromium --no-sandbox --lang=en-US"]) == "chromium"
    assert program_name([]) == ""
