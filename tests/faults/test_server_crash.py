"""kill -9 of `bugtrail serve` during ingestion, repeated at random moments, on SQLite and PostgreSQL.

After every restart: every acknowledged event is stored exactly once, every batch is all-or-nothing (no
half-written trace), event_count and seq agree with the rows, every acknowledged finalize has exactly one
QA job, and resending what was not acknowledged stores it once (the recorder's retry path).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import urllib.error
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from bugtrail.db.models import Event, Job, Trace
from tests.support.server import BugtrailServer, http_json

pytestmark = pytest.mark.slow

CYCLES = 5
WRITERS = 4
BATCH = 20


@dataclass
class Batch:
    trace_id: str
    events: list[dict[str, object]]
    acked: bool = False

    @property
    def event_ids(self) -> list[str]:
        return [str(event["event_id"]) for event in self.events]


@dataclass
class Writer:
    key: str
    batch_size: int = BATCH  # 1: single-event appends (`{...}`, not `{"events": [...]}`)
    finalize_every: int = 4
    batches: list[Batch] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    finalized: set[str] = field(default_factory=set)  # acknowledged finalizes
    pending_finalize: set[str] = field(default_factory=set)
    trace_id: str | None = None
    counter: int = 0

    def post(self, url: str, path: str, body: object) -> tuple[int, object] | None:
        try:
            return http_json("POST", url + path, body, key=self.key, timeout=10)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
            # The server died under us (before answering, or mid-answer: IncompleteRead): not acknowledged.
            return None

    def append(self, url: str, batch: Batch) -> tuple[int, object] | None:
        body = batch.events[0] if self.batch_size == 1 else {"events": batch.events}
        return self.post(url, f"/api/traces/{batch.trace_id}/events", body)

    def resend_unacknowledged(self, url: str) -> None:
        for batch in self.batches:
            if not batch.acked:
                answer = self.append(url, batch)
                assert answer is not None and answer[0] == 200, answer
                body = answer[1]
                assert isinstance(body, dict) and body["accepted"] + body["duplicates"] == len(batch.events)
                batch.acked = True
        for trace_id in sorted(self.pending_finalize):
            answer = self.post(url, f"/api/traces/{trace_id}/finalize", None)
            assert answer is not None and answer[0] == 202, answer
            self.finalized.add(trace_id)
            if self.trace_id == trace_id:
                self.trace_id = None
        self.pending_finalize.clear()

    errors: list[BaseException] = field(default_factory=list)

    def run(self, url: str, stop: threading.Event) -> None:
        try:
            self._run(url, stop)
        except BaseException as exc:  # surfaced by the test, not lost in a thread
            self.errors.append(exc)

    def _run(self, url: str, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.trace_id is None:
                trace_id = str(uuid.uuid4())
                body = {
                    "trace_id": trace_id,
                    "repo_url": "https://github.com/f/p",
                    "bug_description": "crash",
                }
                answer = self.post(url, "/api/traces", body)
                if answer is None:
                    return
                assert answer[0] in (200, 201), answer
                self.trace_id = trace_id
                self.created.add(trace_id)
            self.counter += 1
            batch = Batch(
                self.trace_id,
                [
                    {
                        "event_id": str(uuid.uuid4()),
                        "type": "command",
                        "timestamp": f"2026-11-26T10:{self.counter % 60:02d}:{i:02d}+00:00",
                        "details": {"command": f"make test #{self.counter}.{i}", "output": "x" * 300},
                    }
                    for i in range(self.batch_size)
                ],
            )
            self.batches.append(batch)
            answer = self.append(url, batch)
            if answer is None:
                return
            assert answer[0] == 200, answer
            batch.acked = True
            if self.counter % self.finalize_every == 0:
                self.pending_finalize.add(batch.trace_id)
                answer = self.post(url, f"/api/traces/{batch.trace_id}/finalize", None)
                if answer is None:
                    return
                assert answer[0] == 202, answer
                self.pending_finalize.discard(batch.trace_id)
                self.finalized.add(batch.trace_id)
                self.trace_id = None


def check_store(database_url: str, writers: list[Writer]) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = Counter(row.event_id for row in conn.execute(select(Event.event_id)))
            per_trace = {
                row.trace_id: (row.n, row.max_seq)
                for row in conn.execute(
                    select(
                        Event.trace_id, func.count().label("n"), func.max(Event.seq).label("max_seq")
                    ).group_by(Event.trace_id)
                )
            }
            traces = {row.trace_id: row for row in conn.execute(select(Trace))}
            jobs = Counter(row.trace_id for row in conn.execute(select(Job.trace_id)))
    finally:
        engine.dispose()
    acked_events = 0
    for writer in writers:
        for batch in writer.batches:
            present = [stored[event_id] for event_id in batch.event_ids]
            assert set(present) <= {0, 1}, f"an event stored twice: {present}"
            assert len(set(present)) == 1, f"half-written batch on trace {batch.trace_id}: {present}"
            if batch.acked:
                assert present[0] == 1, "an acknowledged batch is missing"
                acked_events += len(present)
        for trace_id in writer.finalized:
            assert traces[trace_id].status != "pending" and jobs[trace_id] == 1, trace_id
    for trace_id, trace in traces.items():
        count, max_seq = per_trace.get(trace_id, (0, 0))
        assert trace.event_count == count == (max_seq or 0), f"trace {trace_id}: counters disagree"
        assert jobs[trace_id] == (0 if trace.status == "pending" else 1), f"trace {trace_id}: jobs"
    return {"acked_events": acked_events, "stored_events": sum(stored.values()), "traces": len(traces)}


def kill_cycles(
    server: BugtrailServer, database_url: str, writers: list[Writer], cycles: int, pause: tuple[float, float]
) -> int:
    """`cycles` times: (re)start the server, resend what was not acknowledged, let the writers run for a
    random pause, kill -9 it mid-write and check the store; then a last restart and resend. Returns how
    many batches were in flight (unacknowledged) at the kills."""
    rng = random.Random()
    in_flight = 0
    for _cycle in range(cycles):
        if server.process is None or server.process.poll() is not None:
            server.start()
        for writer in writers:
            writer.resend_unacknowledged(server.url)
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(server.url, stop)) for w in writers]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(*pause))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not [error for writer in writers for error in writer.errors]
        check_store(database_url, writers)
        in_flight += sum(not batch.acked for writer in writers for batch in writer.batches)
    server.start()
    for writer in writers:
        writer.resend_unacknowledged(server.url)
    return in_flight


def test_kill_9_during_ingestion_loses_nothing_acknowledged(tmp_path: Path, database_url: str) -> None:
    server = BugtrailServer(tmp_path / "data", database_url=database_url, log_path=tmp_path / "server.log")
    server.start()
    writers = [Writer(server.create_key(f"dev{i}")) for i in range(WRITERS)]
    try:
        in_flight = kill_cycles(server, database_url, writers, CYCLES, (0.3, 2.0))
    finally:
        server.stop()
    figures = check_store(database_url, writers)
    assert figures["acked_events"] > 0
    assert in_flight > 0, "no kill landed while a batch was in flight; the test proved little"
    assert all(batch.acked for writer in writers for batch in writer.batches)
    assert figures["stored_events"] == figures["acked_events"]


GROUP_WRITERS = 16


def test_kill_9_in_the_middle_of_group_commits_loses_nothing_acknowledged(
    tmp_path: Path, database_url: str
) -> None:
    """Sixteen clients appending single events keep group commits in flight all the time (several
    requests per transaction); two API processes (`--workers 2`) die with the killed parent."""
    server = BugtrailServer(
        tmp_path / "data",
        database_url=database_url,
        log_path=tmp_path / "server.log",
        env={"BUGTRAIL_SERVE_WORKERS": "2"},
    )
    server.start()
    writers = [
        Writer(server.create_key(f"dev{i}"), batch_size=1, finalize_every=25) for i in range(GROUP_WRITERS)
    ]
    try:
        in_flight = kill_cycles(server, database_url, writers, 3, (0.5, 1.5))
    finally:
        server.stop()
    figures = check_store(database_url, writers)
    assert in_flight > 0, "no kill landed while an append was in flight; the test proved little"
    assert all(batch.acked for writer in writers for batch in writer.batches)
    assert figures["stored_events"] == figures["acked_events"] > 0
