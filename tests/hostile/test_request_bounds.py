"""Issue 10, bounded cost per request, attacked through a real `bugtrail serve` with ordinary keys:
- an anonymous 29 MiB body answers 401 at once, unread;
- 1 MiB of pathological redaction input never stalls other developers' appends or /healthz;
- a trace_id taken by another developer answers 404, exactly as an unknown one does.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.server import BugtrailServer

BODY_BYTES = 29 * 1024 * 1024


def _request_head(port: int, path: str, length: int, key: str | None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("key", [None, "btk_not-a-real-key"], ids=["no key", "unknown key"])
@pytest.mark.parametrize("path", ["/api/traces", "/api/traces/{trace}/events"])
def test_unauthenticated_large_body_is_refused_before_it_is_read(
    live_server: BugtrailServer, live_key: str, key: str | None, path: str
) -> None:
    path = path.format(trace=uuid.uuid4())
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(_request_head(live_server.port, path, BODY_BYTES, key))
        sock.sendall(b"[" * 65536)  # the start of 29 MiB that never comes: only the headers decide
        sock.settimeout(1.0)
        answer = b""
        while b"API key" not in answer and time.monotonic() - started < 1.0:
            piece = sock.recv(65536)  # the server closes after its answer
            if not piece:
                break
            answer += piece
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert elapsed < 1.0
    assert b"API key" in answer


def test_authenticated_body_over_the_limit_is_still_413(live_server: BugtrailServer, live_key: str) -> None:
    # Content-Length says small, the chunked body is not: counted while streaming.
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * (1024 * 1024)

    response = httpx.post(
        f"{live_server.url}/api/traces",
        content=chunks(),
        headers={"authorization": f"Bearer {live_key}", "content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413


def _pathological_output() -> str:
    # Repeated prefixes of several detectors: ~1 MiB that took 92 s to redact before (private-key block).
    parts = [
        "-----BEGIN PRIVATE KEY-----\n" * 8000,
        "password: " * 10000,
        "mysql -p" * 10000,
        "eyJa.eyJ" * 10000,
        "x_token: " * 10000,
    ]
    return "".join(parts)[: 1024 * 1024 - 1024]


def test_pathological_redaction_input_never_stalls_others(live_server: BugtrailServer) -> None:
    mallory = live_server.create_key("mallory-redos", "developer")
    alice = live_server.create_key("alice-redos", "developer")
    alice_trace = live_server.create_trace(alice)
    output = _pathological_output()
    slow_events = [
        {
            "type": "command",
            "timestamp": "2026-11-30T06:00:00Z",
            "details": {"command": "cat leak.txt", "output": output, "exit_code": 0},
        }
        for _ in range(2)
    ]
    stop = threading.Event()
    latencies: list[tuple[str, float, int]] = []

    def attacker() -> list[int]:
        statuses = []
        with httpx.Client(timeout=300) as client:
            for _ in range(3):
                response = client.post(
                    f"{live_server.url}/api/traces",
                    json={
                        "repo_url": "https://github.com/m/p",
                        "bug_description": "x",
                        "events": slow_events,
                    },
                    headers={"authorization": f"Bearer {mallory}"},
                )
                statuses.append(response.status_code)
        stop.set()
        return statuses

    def bystander() -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not stop.is_set():
                started = time.monotonic()
                health = client.get(f"{live_server.url}/healthz")
                latencies.append(("healthz", time.monotonic() - started, health.status_code))
                started = time.monotonic()
                append = client.post(
                    f"{live_server.url}/api/traces/{alice_trace}/events",
                    json={
                        "type": "reasoning",
                        "timestamp": "2026-11-30T06:00:00Z",
                        "details": {"text": f"note {n}", "reasoning_type": "observation"},
                    },
                    headers={"authorization": f"Bearer {alice}"},
                )
                latencies.append(("append", time.monotonic() - started, append.status_code))
                n += 1
                time.sleep(0.05)

    with ThreadPoolExecutor(2) as pool:
        watcher = pool.submit(bystander)
        statuses = pool.submit(attacker).result(timeout=300)
        watcher.result(timeout=60)
    assert statuses == [201, 201, 201]
    assert len(latencies) >= 4
    slow = [(kind, round(seconds, 2), status) for kind, seconds, status in latencies if seconds >= 2.0]
    assert not slow, slow
    assert all(status in (200, 201) for _, _, status in latencies), latencies


def test_taken_trace_id_answers_404_like_an_unknown_one(live_server: BugtrailServer) -> None:
    owner = live_server.create_key("owner-probe", "developer")
    prober = live_server.create_key("prober-probe", "developer")
    taken = uuid.uuid4()
    body = {
        "trace_id": str(taken),
        "repo_url": "https://github.com/o/secret-project",
        "bug_description": "mine",
    }
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert (
            client.post("/api/traces", json=body, headers={"authorization": f"Bearer {owner}"}).status_code
            == 201
        )
        probe = {**body, "bug_description": "overwrite?"}
        as_prober = {"authorization": f"Bearer {prober}"}
        on_taken = client.post("/api/traces", json=probe, headers=as_prober)
        unknown = uuid.uuid4()
        on_unknown = client.get(f"/api/traces/{unknown}", headers=as_prober)
        assert on_taken.status_code == on_unknown.status_code == 404
        assert on_taken.json()["error"].replace(str(taken), "ID") == on_unknown.json()["error"].replace(
            str(unknown), "ID"
        )
        # Nothing leaked or overwritten: the owner's trace is as created.
        stored = client.get(f"/api/traces/{taken}", headers={"authorization": f"Bearer {owner}"}).json()
        assert stored["bug_description"] == "mine" and stored["developer_id"] == "owner-probe"
