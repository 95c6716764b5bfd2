"""Exports and consent: the default (external) export takes only consented traces, an admin's internal one
takes every trace, and every row (JSONL, Parquet per trace and per event) carries its licence and consent."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from tests.support.seed import add_consent, add_trace

GIVEN = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def mixed(database) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One trace per consent state; returns {state: trace_id}."""
    ids: dict[str, str] = {}
    with database.scope() as s:
        add_consent(s, "open", "CC-BY-4.0", given_at=GIVEN)
        add_consent(s, "inside", "CC-BY-4.0", external_use=False, given_at=GIVEN)
        add_consent(s, "pending", "CC0-1.0", given_at=None)
        add_consent(s, "internal", "internal", external_use=False, given_at=GIVEN)
        add_consent(
            s, "contradiction", "internal", external_use=True, given_at=GIVEN
        )  # straight in the table
        for index, developer in enumerate(("open", "inside", "pending", "internal", "contradiction", "none")):
            ids[developer] = add_trace(s, index=index, developer_id=developer, consent=None)
    return ids


def _jsonl(client, headers, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get("/api/export", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_default_export_takes_only_traces_consented_for_external_use(client, keys, mixed) -> None:  # type: ignore[no-untyped-def]
    rows = _jsonl(client, keys.admin)
    assert [row["trace_id"] for row in rows] == [mixed["open"]]
    assert rows[0]["licence"] == "CC-BY-4.0"
    assert rows[0]["consent"] == {"given_at": "2026-02-01T09:00:00Z", "external_use": True}
    assert _jsonl(client, keys.admin, use="external") == rows
    # A reviewer's export selects the same traces (their rows are blind: docs/review.md).
    blind = _jsonl(client, keys.reviewer)
    assert [(row["trace_id"], row["licence"], row["consent"]) for row in blind] == [
        (row["trace_id"], row["licence"], row["consent"]) for row in rows
    ]
    export_id = client.get("/api/exports", headers=keys.admin).json()[0]["id"]
    record = client.get(f"/api/exports/{export_id}", headers=keys.admin).json()
    assert record["filters"] == {"use": "external"} and record["trace_count"] == 1


def test_internal_export_is_admin_only_and_takes_every_trace_with_its_licence(client, keys, mixed) -> None:  # type: ignore[no-untyped-def]
    denied = client.get("/api/export", params={"use": "internal"}, headers=keys.reviewer)
    assert denied.status_code == 403 and "admin" in denied.json()["error"]
    assert client.get("/api/export", params={"use": "internal"}, headers=keys.alice).status_code == 403
    assert client.get("/api/export", params={"use": "everything"}, headers=keys.admin).status_code == 422

    rows = {row["developer_id"]: row for row in _jsonl(client, keys.admin, use="internal")}
    assert {row["trace_id"] for row in rows.values()} == set(mixed.values())
    assert {name: row["licence"] for name, row in rows.items()} == {
        "open": "CC-BY-4.0",
        "inside": "CC-BY-4.0",
        "pending": "internal",  # no consent yet: not under the licence it will have
        "internal": "internal",
        "contradiction": "internal",
        "none": "internal",
    }
    assert rows["none"]["consent"] is None
    assert rows["pending"]["consent"] == {"given_at": None, "external_use": True}
    assert rows["inside"]["consent"] == {"given_at": "2026-02-01T09:00:00Z", "external_use": False}
    records = client.get("/api/exports", headers=keys.admin).json()
    assert records[0]["filters"] == {"use": "internal"} and records[0]["trace_count"] == 6
    assert records[0]["requested_by"] == "admin"


def test_parquet_rows_carry_licence_and_consent_in_both_layouts(client, keys, mixed) -> None:  # type: ignore[no-untyped-def]
    external = client.get("/api/export", params={"format": "parquet"}, headers=keys.reviewer)
    table = pq.read_table(io.BytesIO(external.content))
    assert table.column("trace_id").to_pylist() == [mixed["open"]]
    assert table.column("licence").to_pylist() == ["CC-BY-4.0"]
    assert table.column("consent").to_pylist() == [{"given_at": GIVEN, "external_use": True}]

    internal = client.get("/api/export", params={"format": "parquet", "use": "internal"}, headers=keys.admin)
    rows = {row["developer_id"]: row for row in pq.read_table(io.BytesIO(internal.content)).to_pylist()}
    assert len(rows) == 6 and rows["none"]["licence"] == "internal" and rows["none"]["consent"] is None
    assert rows["inside"]["consent"] == {"given_at": GIVEN, "external_use": False}

    params = {"format": "parquet", "layout": "event", "use": "internal"}
    events = pq.read_table(io.BytesIO(client.get("/api/export", params=params, headers=keys.admin).content))
    assert events.num_rows == 30 and None not in events.column("licence").to_pylist()
    per_developer = {
        row["developer_id"]: row["licence"] for row in events.select(["developer_id", "licence"]).to_pylist()
    }
    assert per_developer["open"] == "CC-BY-4.0" and per_developer["none"] == "internal"
    external_events = client.get("/api/export", params={**params, "use": "external"}, headers=keys.admin)
    assert set(pq.read_table(io.BytesIO(external_events.content)).column("licence").to_pylist()) == {
        "CC-BY-4.0"
    }


def test_withdrawn_consent_leaves_later_exports_and_counts_follow(client, keys, mixed, database) -> None:  # type: ignore[no-untyped-def]
    from bugtrail.export import flows
    from bugtrail.export.filters import ExportFilters

    assert flows.count(database, ExportFilters()) == 1
    assert flows.count(database, ExportFilters(use="internal")) == 6
    assert client.delete("/api/developers/open/consent", headers=keys.admin).status_code == 200
    assert _jsonl(client, keys.reviewer) == []
    granted = client.put(
        "/api/developers/none/consent", json={"licence": "MIT", "external_use": True}, headers=keys.admin
    )
    assert granted.status_code == 201
    rows = _jsonl(client, keys.reviewer, developer_id="none")
    assert [row["trace_id"] for row in rows] == [mixed["none"]] and rows[0]["licence"] == "MIT"


def test_get_trace_carries_the_same_licence_as_the_export(client, keys, mixed) -> None:  # type: ignore[no-untyped-def]
    (row,) = _jsonl(client, keys.admin)
    single = client.get(f"/api/traces/{mixed['open']}", headers=keys.admin).json()
    assert single == row
    none = client.get(f"/api/traces/{mixed['none']}", headers=keys.admin).json()
    assert none["licence"] == "internal" and none["consent"] is None


def test_cli_export_defaults_to_external_and_takes_internal_when_asked(
    settings, database, mixed, monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from bugtrail.cli.app import app
    from bugtrail.export.repository import list_records

    monkeypatch.setenv("BUGTRAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUGTRAIL_DATABASE_URL", settings.resolved_database_url)
    out = tmp_path / "external.jsonl"
    result = CliRunner().invoke(app, ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["trace_id"] for line in out.read_text().splitlines()] == [mixed["open"]]
    internal = tmp_path / "internal.parquet"
    result = CliRunner().invoke(
        app, ["export", "--format", "parquet", "--use", "internal", "--out", str(internal)]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(internal).num_rows == 6
    assert CliRunner().invoke(app, ["export", "--use", "public", "--out", str(out)]).exit_code == 2
    with database.scope(read_only=True) as s:
        assert [record.filters for record in list_records(s)[:2]] == [
            {"use": "internal", "layout": "trace"},
            {"use": "external"},
        ]


def test_licence_filter_selects_by_the_licence_rows_carry(client, keys, mixed) -> None:  # type: ignore[no-untyped-def]
    def developers(**params) -> list[str]:  # type: ignore[no-untyped-def]
        return sorted(row["developer_id"] for row in _jsonl(client, keys.admin, use="internal", **params))

    assert developers(licence="cc-by-4.0") == ["inside", "open"]
    assert developers(licence="internal") == ["contradiction", "internal", "none", "pending"]
    assert developers(licence="CC0-1.0") == []  # pending's licence once consent is given; not yet
    assert developers(licence="internal,CC-BY-4.0") == sorted(mixed)
    assert [row["trace_id"] for row in _jsonl(client, keys.reviewer, licence="CC-BY-4.0")] == [mixed["open"]]
    bad = client.get("/api/export", params={"licence": "GPL-2.0"}, headers=keys.admin)
    assert bad.status_code == 422 and "not an accepted licence" in bad.text
    records = client.get("/api/exports", headers=keys.admin).json()
    assert records[0]["filters"] == {"use": "external", "licence": ["CC-BY-4.0"]}
