"""Issue 10: GET /api/traces/{id} and the JSONL export of a ~300 MB trace keep the server's memory bounded
(they used to load the whole trace: +1.1 GiB for one GET). Measured on a real `bugtrail serve` process."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.traces import repository as repo
from tests.support.server import BugtrailServer, rss_kib

EVENTS = 300
OUTPUT = ("0123456789abcdef" * 64 + "\n") * 1000  # ~1 MiB per event: ~300 MB in all
MAX_GROWTH_KIB = 150 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BugtrailServer, str, str]]:
    root: Path = tmp_path_factory.mktemp("huge")
    server = BugtrailServer(root / "data", log_path=root / "server.log").start()
    try:
        assert server.admin_key is not None
        key = server.create_key("hoarder", "developer")
        trace_id = server.create_trace(key)
        _fill(root / "data", trace_id)
        yield server, key, trace_id
    finally:
        server.stop()


def _fill(data_dir: Path, trace_id: str) -> None:
    """Rows straight through the repository, in batches (the API would take minutes for 300 MB)."""
    database = Database(Settings(data_dir=data_dir, embedded_worker=False))
    start = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    try:
        for first in range(0, EVENTS, 25):
            rows = [
                {
                    "trace_id": trace_id,
                    "event_id": str(uuid.uuid4()),
                    "seq": seq + 1,
                    "event_type": "command",
                    "event_timestamp": (start + timedelta(seconds=seq)).isoformat(),
                    "ts_utc": (start + timedelta(seconds=seq)).replace(tzinfo=None),
                    "details": {"command": "cat big.log", "output": OUTPUT, "exit_code": 0},
                    "content_hash": "0" * 64,
                    "redactions": 0,
                }
                for seq in range(first, min(first + 25, EVENTS))
            ]
            with database.scope() as session:
                repo.insert_events(session, rows)
        with database.scope() as session:
            trace = repo.get_trace(session, trace_id)
            assert trace is not None
            trace.event_count = EVENTS
    finally:
        database.dispose()


class PeakRss:
    """Samples the server's resident memory while a request runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_kib(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_kib(self) -> int:
        return self.peak - self.baseline


def _drain(response: httpx.Response) -> tuple[int, int, bytes, bytes]:
    """Bytes, number of events (counted across chunk edges), first and last bytes; nothing kept whole."""
    size = events = 0
    head = tail = b""
    carry = b""
    for chunk in response.iter_bytes():
        if not head:
            head = chunk[:64]
        window = carry + chunk
        events += window.count(b'"event_id":')
        carry = window[-16:]
        events -= carry.count(b'"event_id":')  # counted again with the next chunk
        size += len(chunk)
        tail = (tail + chunk)[-64:]
    events += carry.count(b'"event_id":')
    return size, events, head, tail


def test_get_of_a_300_mb_trace_streams_in_bounded_memory(huge: tuple[BugtrailServer, str, str]) -> None:
    server, key, trace_id = huge
    assert server.process is not None
    with (
        PeakRss(server.process.pid) as rss,
        httpx.stream(
            "GET",
            f"{server.url}/api/traces/{trace_id}",
            headers={"authorization": f"Bearer {key}"},
            timeout=120,
        ) as response,
    ):
        assert response.status_code == 200
        size, events, head, tail = _drain(response)
    assert size > EVENTS * len(OUTPUT)
    assert events == EVENTS
    assert head.startswith(b'{"trace_id":"' + trace_id.encode()) and tail.endswith(b"}")
    assert rss.growth_kib < MAX_GROWTH_KIB, f"server RSS grew by {rss.growth_kib // 1024} MiB"


def test_jsonl_export_of_a_300_mb_trace_streams_in_bounded_memory(
    huge: tuple[BugtrailServer, str, str],
) -> None:
    server, _key, trace_id = huge
    assert server.process is not None
    with (
        PeakRss(server.process.pid) as rss,
        httpx.stream(
            "GET",
            f"{server.url}/api/export",
            params={"use": "internal"},  # the developer recorded no consent
            headers={"authorization": f"Bearer {server.admin_key}"},
            timeout=120,
        ) as response,
    ):
        assert response.status_code == 200
        size, events, head, tail = _drain(response)
    assert events == EVENTS and size > EVENTS * len(OUTPUT)
    assert head.startswith(b'{"trace_id":"' + trace_id.encode()) and tail.endswith(b"}\n")
    assert rss.growth_kib < MAX_GROWTH_KIB, f"server RSS grew by {rss.growth_kib // 1024} MiB"
