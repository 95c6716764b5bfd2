"""GET /api/export and /api/exports through the real app: roles, streaming, headers, records."""

from __future__ import annotations

import hashlib
import io
import json

import pyarrow.parquet as pq

from tests.support.seed import add_trace


def _seed(database) -> list[str]:
    with database.scope() as s:
        return [
            add_trace(s, index=0, developer_id="alice"),
            add_trace(s, index=1, developer_id="bob", resolved=False, reasoning_score=2.0),
        ]


def test_export_needs_reviewer_or_admin(client, keys, database):
    assert client.get("/api/export").status_code == 401
    response = client.get("/api/export", headers=keys.alice)
    assert response.status_code == 403 and response.json()["error"]
    assert client.get("/api/exports", headers=keys.bob).status_code == 403
    assert client.get("/api/export", headers=keys.reviewer).status_code == 200


def test_jsonl_export_streams_the_get_shape_and_is_recorded(client, keys, database):
    ids = _seed(database)
    response = client.get(
        "/api/export", params={"format": "jsonl", "resolved": "true"}, headers=keys.reviewer
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.content.decode().splitlines()
    assert [json.loads(line)["trace_id"] for line in lines] == [ids[0]]
    single = client.get(f"/api/traces/{ids[0]}", headers=keys.admin).json()
    assert json.loads(lines[0]) == single
    export_id = response.headers["x-bugtrail-export-id"]
    record = client.get(f"/api/exports/{export_id}", headers=keys.reviewer).json()
    assert record["trace_count"] == 1 and record["filters"] == {"use": "external", "resolved": True}
    assert record["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert record["byte_count"] == len(response.content) and record["requested_by"] == "reviewer"
    listed = client.get("/api/exports", headers=keys.admin).json()
    assert [r["id"] for r in listed] == [int(export_id)]


def test_parquet_export_over_http(client, keys, database):
    ids = _seed(database)
    response = client.get("/api/export", params={"format": "parquet"}, headers=keys.admin)
    assert response.status_code == 200
    assert response.headers["x-bugtrail-export-sha256"] == hashlib.sha256(response.content).hexdigest()
    table = pq.read_table(io.BytesIO(response.content))
    assert sorted(table.column("trace_id").to_pylist()) == sorted(ids)
    per_event = client.get("/api/export", params={"format": "parquet", "layout": "event"}, headers=keys.admin)
    assert pq.read_table(io.BytesIO(per_event.content)).num_rows == 10


def test_bad_filters_are_rejected(client, keys):
    response = client.get("/api/export", params={"status": "bogus"}, headers=keys.admin)
    assert response.status_code == 422 and response.json()["error"]
    assert client.get("/api/export", params={"format": "csv"}, headers=keys.admin).status_code == 422


def test_cli_export_writes_file_and_records_it(settings, database, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bugtrail.cli.app import app

    ids = _seed(database)
    monkeypatch.setenv("BUGTRAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUGTRAIL_DATABASE_URL", settings.resolved_database_url)
    out = tmp_path / "alice.parquet"
    result = CliRunner().invoke(
        app, ["export", "--format", "parquet", "--out", str(out), "--developer", "alice"]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("trace_id").to_pylist() == [ids[0]]
    jsonl = tmp_path / "all.jsonl"
    result = CliRunner().invoke(app, ["export", "--out", str(jsonl), "--min-reasoning-score", "1"])
    assert result.exit_code == 0 and len(jsonl.read_text().splitlines()) == 2
    assert hashlib.sha256(jsonl.read_bytes()).hexdigest() in result.output


def test_cli_export_from_a_server_checks_the_sha256(app, keys, database, tmp_path):
    from typer.testing import CliRunner

    from bugtrail.cli.app import app as cli
    from tests.support.server import live_app_server

    ids = _seed(database)
    out = tmp_path / "remote.jsonl"
    with live_app_server(app) as url:
        args = ["export", "--out", str(out), "--server", url, "--resolved", "--status", "completed"]
        result = CliRunner().invoke(cli, args, env={"BUGTRAIL_API_KEY": keys.raw["reviewer"]})
        assert result.exit_code == 0, result.output
        assert [json.loads(line)["trace_id"] for line in out.read_text().splitlines()] == [ids[0]]
        assert hashlib.sha256(out.read_bytes()).hexdigest() in result.output
        denied = CliRunner().invoke(cli, args, env={"BUGTRAIL_API_KEY": keys.raw["alice"]})
        assert denied.exit_code == 1 and "403" in denied.output
