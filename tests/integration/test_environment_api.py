"""A trace's recorded `environment` through the API on SQLite and PostgreSQL: stored, returned, exported,
idempotent, and hostile input refused with the field named."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.parquet as pq

ENVIRONMENT = {
    "python_version": "3.11.7",
    "implementation": "CPython",
    "platform": "Linux-6.1-x86_64-with-glibc2.36",
    "packages": [
        "attrs==23.2.0",
        "mylib @ file:///home/dev/src/mylib",
        "other @ git+https://example.org/o/other.git@0123456789abcdef0123456789abcdef01234567",
        "-e /home/dev/src/plugin",
    ],
    "project": ["tinyproj"],
    "captured_by": "bugtrail 0.1.0",
}


def trace(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "repo_url": "https://github.com/org/tinyproj",
        "bug_description": "the cache key ignores the locale",
        "base_commit": "a" * 40,
        "environment": ENVIRONMENT,
    }
    body.update(overrides)
    return body


def test_environment_is_stored_returned_and_resent_idempotently(client, keys) -> None:
    created = client.post("/api/traces", json=trace(), headers=keys.alice)
    assert created.status_code == 201, created.text
    trace_id = created.json()["trace_id"]
    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert got["environment"] == {**ENVIRONMENT, "notes": []}  # local paths and VCS URLs kept verbatim

    again = client.post("/api/traces", json=trace(trace_id=trace_id), headers=keys.alice)
    assert again.status_code == 200 and again.json()["created"] is False
    changed = {**ENVIRONMENT, "packages": ["attrs==24.1.0"]}
    conflict = client.post(
        "/api/traces", json=trace(trace_id=trace_id, environment=changed), headers=keys.alice
    )
    assert conflict.status_code == 409, conflict.text
    dropped = client.post("/api/traces", json=trace(trace_id=trace_id, environment=None), headers=keys.alice)
    assert dropped.status_code == 409, "a resend without the environment is different content"


def test_trace_without_environment_reads_null(client, keys) -> None:
    body = trace()
    del body["environment"]
    trace_id = client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"]
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["environment"] is None
    again = client.post("/api/traces", json={**body, "trace_id": trace_id}, headers=keys.alice)
    assert again.status_code == 200, "the content hash of traces without an environment is unchanged"


def _refused(client, keys, environment: Any) -> tuple[int, list[str], str]:
    response = client.post("/api/traces", json=trace(environment=environment), headers=keys.alice)
    body = response.json()
    fields = [problem["field"] for problem in body["detail"]] if isinstance(body["detail"], list) else []
    return response.status_code, fields, body["error"]


def test_hostile_environments_are_refused_naming_the_field(client, keys) -> None:
    status, fields, _ = _refused(client, keys, {"packages": ["six==1.16.0"] * 100_000})
    assert status == 422 and fields == ["environment.packages"]

    status, fields, _ = _refused(client, keys, {"packages": ["six==1.16.0", "x" * (10 * 1024 * 1024)]})
    assert status == 422 and fields == ["environment.packages[1]"]

    status, fields, error = _refused(client, keys, {"packages": ["a==1", "b==2", "evil==1\x1b[31m"]})
    assert status == 422 and fields == ["environment.packages[2]"] and "control character" in error
    status, fields, _ = _refused(client, keys, {"python_version": "3.11\n.7"})
    assert status == 422 and fields == ["environment.python_version"]

    # Under every per-entry and count limit, over the total cap.
    status, fields, error = _refused(client, keys, {"packages": [f"p{i}==" + "1" * 900 for i in range(1000)]})
    assert status == 422 and fields == ["environment"] and "at most 524288" in error

    status, fields, _ = _refused(client, keys, {"packages": [], "pip": "freeze"})
    assert status == 422 and fields == ["environment.pip"]
    assert client.get("/api/traces", headers=keys.alice).json()["items"] == [], "nothing was stored"


def test_exports_carry_the_environment(client, keys) -> None:
    with_env = client.post("/api/traces", json=trace(), headers=keys.alice).json()["trace_id"]
    body = trace()
    del body["environment"]
    without = client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"]

    # alice recorded no consent: an admin's internal export includes her traces
    internal = {"use": "internal"}
    lines = client.get(
        "/api/export", params={**internal, "format": "jsonl"}, headers=keys.admin
    ).text.splitlines()
    by_id = {row["trace_id"]: row for row in map(json.loads, lines)}
    assert by_id[with_env]["environment"]["packages"] == ENVIRONMENT["packages"]
    assert by_id[without]["environment"] is None

    parquet = client.get("/api/export", params={**internal, "format": "parquet"}, headers=keys.admin)
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.schema.field("environment").type == "string"
    rows = {
        row["trace_id"]: row["environment"] for row in table.select(["trace_id", "environment"]).to_pylist()
    }
    assert json.loads(rows[with_env])["project"] == ["tinyproj"]
    assert rows[without] is None
