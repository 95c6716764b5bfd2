"""Slow and numerous clients must not stop the server from serving everyone else (real uvicorn, SQLite)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.rawhttp import RawConnection
from tests.support.server import http_json

pytestmark = pytest.mark.slow


def timed_healthy_requests(server, key: str, count: int = 20) -> list[float]:  # type: ignore[no-untyped-def]
    """Latencies of a normal client creating a trace and appending events while others misbehave."""
    trace_id = server.create_trace(key)
    latencies = []
    for i in range(count):
        event = {
            "type": "reasoning",
            "timestamp": "2026-11-26T10:00:00+00:00",
            "details": {"text": f"still served {i}", "reasoning_type": "observation"},
        }
        started = time.perf_counter()
        status, body = http_json(
            "POST", f"{server.url}/api/traces/{trace_id}/events", event, key=key, timeout=10
        )
        latencies.append(time.perf_counter() - started)
        assert status == 200, body
    return latencies


def test_many_concurrent_writers_all_succeed(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    """More writers than the 40 thread-pool threads: this stalled for 30 s and answered 503 before the
    database admission gate (api/db_gate.py)."""

    async def run() -> list[tuple[int, float]]:
        conns = [RawConnection("127.0.0.1", live_server.port, live_key, timeout=60) for _ in range(120)]
        body = {"repo_url": "https://github.com/m/p", "bug_description": "concurrent"}

        async def one(conn: RawConnection) -> tuple[int, float]:
            status, _, seconds = await conn.request("POST", "/api/traces", body)
            await conn.close()
            return status, seconds

        return await asyncio.gather(*(one(conn) for conn in conns))

    # A thread of its own: a session-scoped Playwright fixture may keep an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as loop_thread:
        results = loop_thread.submit(asyncio.run, run()).result()
    assert [status for status, _ in results] == [201] * 120
    assert max(seconds for _, seconds in results) < 20


def test_clients_waiting_for_qa_do_not_starve_the_server(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    traces = [live_server.create_trace(live_key) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        # No worker runs: each finalize ?wait=8 blocks for its full 8 s.
        waiting = [
            pool.submit(
                http_json, "POST", f"{live_server.url}/api/traces/{t}/finalize?wait=8", None, live_key, 30
            )
            for t in traces
        ]
        time.sleep(1.0)
        latencies = timed_healthy_requests(live_server, live_key)
        assert all(not future.done() for future in waiting), "the waits should still be waiting"
        statuses = [future.result()[0] for future in waiting]
    assert max(latencies) < 2.0, latencies
    assert statuses == [202] * 50


def test_slowloris_and_slow_uploads_do_not_block_others(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    sockets: list[socket.socket] = []
    try:
        for i in range(300):  # headers that never finish
            sock = socket.create_connection(("127.0.0.1", live_server.port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow-%d: a" % i)
            sockets.append(sock)
        trace_id = live_server.create_trace(live_key)
        for _ in range(30):  # bodies that never finish, on a real write route
            sock = socket.create_connection(("127.0.0.1", live_server.port))
            sock.sendall(
                (
                    f"POST /api/traces/{trace_id}/events HTTP/1.1\r\nhost: x\r\n"
                    f"authorization: Bearer {live_key}\r\n"
                    'content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"events": ['
                ).encode()
            )
            sockets.append(sock)
        for _ in range(3):  # keep dribbling while the healthy client works
            for sock in sockets:
                sock.sendall(b"a")
            latencies = timed_healthy_requests(live_server, live_key, count=10)
            assert max(latencies) < 2.0, latencies
    finally:
        for sock in sockets:
            sock.close()
    status, _ = http_json("GET", live_server.url + "/healthz")
    assert status == 200
    status, body = http_json("GET", f"{live_server.url}/api/traces/{trace_id}", key=live_key)
    assert status == 200 and body["event_count"] == 0, "a half-sent body must store nothing"
    assert json.dumps(body)  # still a well-formed answer
