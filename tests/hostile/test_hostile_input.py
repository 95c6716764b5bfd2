"""Oversized bodies and headers, deep nesting, huge event counts, NUL characters: 4xx, bounded memory, no 500.

Socket-level cases run against a real uvicorn (`live_server`), since the limits that matter there live in the
HTTP server and the middleware; database-specific cases use the in-process client on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid

from tests.support.rawhttp import raw_exchange, status_of
from tests.support.server import http_json, rss_kib

MiB = 1024 * 1024
# The server's resident memory may grow this much during one hostile request at most.
MEMORY_SLACK_KIB = 64 * 1024


def request_bytes(path: str, key: str, body: bytes, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def reasoning(extra: object = None) -> dict[str, object]:
    details: dict[str, object] = {"text": "x", "reasoning_type": "plan"}
    if extra is not None:
        details["extra"] = extra
    return {
        "event_id": str(uuid.uuid4()),
        "type": "reasoning",
        "timestamp": "2026-11-26T10:00:00+00:00",
        "details": details,
    }


def event_count(server, key: str, trace_id: str) -> int:  # type: ignore[no-untyped-def]
    status, body = http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)
    assert status == 200, body
    return int(body["event_count"])


def test_declared_huge_body_is_refused_before_it_is_read(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    trace_id = live_server.create_trace(live_key)
    before = rss_kib(live_server.process.pid)
    # Declares 10 GiB and sends 1 MiB of it: the answer must come from the Content-Length alone.
    response = raw_exchange(
        live_server.port,
        request_bytes(f"/api/traces/{trace_id}/events", live_key, b"[" * MiB, content_length=10 * 1024**3),
    )
    assert status_of(response) == 413 and b"limit" in response
    assert rss_kib(live_server.process.pid) - before < MEMORY_SLACK_KIB
    assert event_count(live_server, live_key, trace_id) == 0


def test_streamed_body_over_the_limit_is_413_and_memory_stays_bounded(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    trace_id = live_server.create_trace(live_key)
    before = rss_kib(live_server.process.pid)
    head = (
        f"POST /api/traces/{trace_id}/events HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {live_key}\r\n"
        "content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    ).encode()
    chunk = b"a" * MiB
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(48)) + b"0\r\n\r\n"
    response = raw_exchange(live_server.port, head + body)
    assert status_of(response) == 413
    assert rss_kib(live_server.process.pid) - before < MEMORY_SLACK_KIB
    assert event_count(live_server, live_key, trace_id) == 0


def test_huge_header_block_is_refused_with_bounded_memory(live_server) -> None:  # type: ignore[no-untyped-def]
    before = rss_kib(live_server.process.pid)
    header_line = b"x-filler: " + b"a" * 8000 + b"\r\n"
    response = raw_exchange(live_server.port, b"GET /healthz HTTP/1.1\r\nhost: x\r\n" + header_line * 4000)
    assert status_of(response) in (400, 413, 431)
    assert rss_kib(live_server.process.pid) - before < MEMORY_SLACK_KIB
    assert http_json("GET", live_server.url + "/healthz")[0] == 200


def test_100k_nested_arrays_are_400_not_a_crash(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    trace_id = live_server.create_trace(live_key)
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (deep, json.dumps({"events": [reasoning()]})[:-2].encode() + b', "x": ' + deep + b"}]}"):
        response = raw_exchange(
            live_server.port, request_bytes(f"/api/traces/{trace_id}/events", live_key, body)
        )
        assert status_of(response) in (400, 422), response[:300]
        assert b'"error"' in response
    assert http_json("GET", live_server.url + "/healthz")[0] == 200
    assert event_count(live_server, live_key, trace_id) == 0


def test_nesting_the_json_parser_accepts_is_still_bounded(live_server, live_key) -> None:  # type: ignore[no-untyped-def]
    # 900 levels parse fine but used to crash serialisation (500); the wire format now caps details depth.
    trace_id = live_server.create_trace(live_key)
    nested: object = []
    for _ in range(900):
        nested = [nested]
    status, body = http_json(
        "POST", f"{live_server.url}/api/traces/{trace_id}/events", reasoning(nested), key=live_key
    )
    assert status == 422 and "nested deeper" in body["error"], body
    shallow: object = {"a": {"b": [1, 2, {"c": "d"}]}}
    status, body = http_json(
        "POST", f"{live_server.url}/api/traces/{trace_id}/events", reasoning(shallow), key=live_key
    )
    assert status == 200 and body["accepted"] == 1, body


def test_huge_event_counts_are_413_and_store_nothing(client, keys, settings) -> None:  # type: ignore[no-untyped-def]
    too_many = settings.max_events_per_batch + 1
    events = [reasoning() for _ in range(too_many)]
    created = client.post(
        "/api/traces",
        json={"repo_url": "https://github.com/m/p", "bug_description": "x", "events": events},
        headers=keys.alice,
    )
    assert created.status_code == 413 and str(settings.max_events_per_batch) in created.json()["error"]
    assert client.get("/api/traces", headers=keys.alice).json()["items"] == []
    trace_id = client.post(
        "/api/traces", json={"repo_url": "https://github.com/m/p", "bug_description": "x"}, headers=keys.alice
    ).json()["trace_id"]
    appended = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=keys.alice)
    assert appended.status_code == 413
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["event_count"] == 0


def test_nul_characters_never_cause_a_500(client, keys) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text and JSONB cannot hold NUL; both databases must answer 2xx/4xx, never 500."""
    from fastapi.testclient import TestClient

    lenient = TestClient(client.app, raise_server_exceptions=False)
    header = lenient.post(
        "/api/traces",
        json={"repo_url": "https://github.com/m/p", "bug_description": "a\x00b"},
        headers=keys.alice,
    )
    assert header.status_code in (201, 422), header.text
    listing = lenient.get("/api/traces", params={"repo_url": "x\x00y"}, headers=keys.reviewer)
    assert listing.status_code in (200, 400, 422), listing.text
    key = lenient.post("/api/keys", json={"developer_id": "n\x00l"}, headers=keys.admin)
    assert key.status_code in (201, 422), key.text
    trace_id = lenient.post(
        "/api/traces",
        json={"repo_url": "https://github.com/m/p", "bug_description": "ok"},
        headers=keys.alice,
    ).json()["trace_id"]
    output = {
        "event_id": str(uuid.uuid4()),
        "type": "command",
        "timestamp": "2026-11-26T10:00:00+00:00",
        "details": {"command": "cat blob", "output": "PK\x00\x03", "x\x00": ["\x00"]},
    }
    appended = lenient.post(f"/api/traces/{trace_id}/events", json=output, headers=keys.alice)
    assert appended.status_code == 200, appended.text
    stored = lenient.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"][0]["details"]
    assert stored["output"] == "PK\ufffd\x03" and stored["x\ufffd"] == ["\ufffd"]
    # The same event sent again is still recognised as a duplicate (hashes use the content as sent).
    again = lenient.post(f"/api/traces/{trace_id}/events", json=output, headers=keys.alice)
    assert again.status_code == 200 and again.json()["duplicates"] == 1


def test_ids_beyond_64_bits_are_4xx_on_every_route(client, app, keys) -> None:  # type: ignore[no-untyped-def]
    """SQLite raised OverflowError (a 500) for integer path ids >= 2**63."""
    from fastapi.testclient import TestClient

    from tests.support.routes import call, operations

    lenient = TestClient(app, raise_server_exceptions=False)
    failures = []
    for method, template in operations(app):
        if "_id}" not in template or "{trace_id}" in template:
            continue
        path = template.replace("{", "").replace("}", "")
        for name in [part for part in template.split("/") if part.startswith("{")]:
            path = path.replace(name.strip("{}"), str(2**63), 1)
        response = call(lenient, method, path, keys.admin)
        if response.status_code >= 500:
            failures.append(f"{method} {template} -> {response.status_code}")
    assert not failures, failures
