"""Consent and licence per developer: admin API and CLI, who may read what, and 422s naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

CONSENT = {"licence": "CC-BY-4.0", "external_use": True, "consent_given_at": "2026-05-01T09:00:00+02:00"}


def _put(client, headers, developer: str, body: dict):  # type: ignore[no-untyped-def]
    return client.put(f"/api/developers/{developer}/consent", json=body, headers=headers)


def test_admin_records_replaces_reads_lists_and_withdraws(client, keys) -> None:  # type: ignore[no-untyped-def]
    created = _put(client, keys.admin, "alice", CONSENT)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["developer_id"] == "alice" and body["licence"] == "CC-BY-4.0" and body["external_use"] is True
    assert datetime.fromisoformat(body["consent_given_at"]) == datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
    assert body["updated_by"] == "admin" and body["external_export"] is True

    # A PUT replaces the record: SPDX ids are matched case-insensitively and stored in SPDX spelling.
    replaced = _put(client, keys.admin, "alice", {"licence": "cc0-1.0", "external_use": False})
    assert replaced.status_code == 200
    assert replaced.json()["licence"] == "CC0-1.0" and replaced.json()["external_export"] is False
    given = datetime.fromisoformat(replaced.json()["consent_given_at"])
    assert abs(given - datetime.now(UTC)) < timedelta(minutes=1), "left out: consent given now"

    pending = _put(client, keys.admin, "bob", {**CONSENT, "consent_given_at": None})
    assert pending.status_code == 201 and pending.json()["consent_given_at"] is None
    assert pending.json()["external_export"] is False, "pending consent exports nothing externally"
    # external_use left out: no external use; "license" and "given_at" are accepted spellings too.
    carol = _put(client, keys.admin, "carol", {"license": "internal", "given_at": "2026-05-02T00:00:00Z"})
    assert carol.status_code == 201 and carol.json()["external_use"] is False
    assert carol.json()["consent_given_at"] == "2026-05-02T00:00:00Z"

    listed = client.get("/api/developers/consent", headers=keys.admin).json()
    assert [row["developer_id"] for row in listed] == ["alice", "bob", "carol"]
    assert [row["licence"] for row in listed] == ["CC0-1.0", "CC-BY-4.0", "internal"]
    _put(client, keys.admin, "alice", CONSENT)
    external = client.get("/api/developers/consent", params={"external_only": True}, headers=keys.admin)
    assert [row["developer_id"] for row in external.json()] == ["alice"]

    assert client.get("/api/developers/bob/consent", headers=keys.admin).json()["licence"] == "CC-BY-4.0"
    withdrawn = client.delete("/api/developers/bob/consent", headers=keys.admin)
    assert withdrawn.status_code == 200 and withdrawn.json()["developer_id"] == "bob"
    assert client.get("/api/developers/bob/consent", headers=keys.admin).status_code == 404
    assert client.delete("/api/developers/bob/consent", headers=keys.admin).status_code == 404


def test_developers_read_only_their_own_and_cannot_set_it(client, keys) -> None:  # type: ignore[no-untyped-def]
    _put(client, keys.admin, "alice", CONSENT)
    own = client.get("/api/developers/alice/consent", headers=keys.alice)
    assert own.status_code == 200 and own.json()["licence"] == "CC-BY-4.0"
    assert client.get("/api/developers/alice/consent", headers=keys.bob).status_code == 403
    assert client.get("/api/developers/bob/consent", headers=keys.bob).status_code == 404  # none recorded
    assert client.get("/api/developers/alice/consent", headers=keys.reviewer).status_code == 403
    for headers in (keys.alice, keys.reviewer):
        assert _put(client, headers, "alice", CONSENT).status_code == 403
        assert client.delete("/api/developers/alice/consent", headers=headers).status_code == 403
        assert client.get("/api/developers/consent", headers=headers).status_code == 403
    # Even a bad body from a developer key is a 403, not a 422 that would describe the admin API.
    assert _put(client, keys.alice, "alice", {"licence": "nope"}).status_code == 403
    assert client.get("/api/developers/alice/consent").status_code == 401
    assert client.get("/api/developers/alice/consent", headers=keys.admin).json()["external_use"] is True


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"licence": "GPL-3.0-only", "external_use": True}, "licence", "not an accepted licence"),
        ({"licence": "", "external_use": True}, "licence", "not an accepted licence"),
        ({"licence": "x" * 10_000, "external_use": True}, "licence", "at most 64"),
        ({"licence": 42, "external_use": True}, "licence", "string"),
        ({"licence": "internal", "external_use": True}, "body", "external_use cannot be true"),
        ({"licence": "MIT", "external_use": "perhaps"}, "external_use", "boolean"),
        ({"external_use": True}, "licence", "required"),
        (
            {"licence": "MIT", "external_use": True, "consent_given_at": "2026-05-01T09:00:00"},
            "consent_given_at",
            "timezone",
        ),
        (
            {"licence": "MIT", "external_use": True, "consent_given_at": "yesterday"},
            "consent_given_at",
            "datetime",
        ),
        (
            {"licence": "MIT", "external_use": True, "consent_given_at": "2999-01-01T00:00:00Z"},
            "consent_given_at",
            "future",
        ),
        (
            {"licence": "MIT", "external_use": True, "consent_given_at": "1970-01-01T00:00:00Z"},
            "consent_given_at",
            "before 2000",
        ),
        ({"licence": "MIT", "external_use": True, "given": "now"}, "given", "Extra inputs"),
    ],
)
def test_invalid_consent_is_a_422_naming_the_field(client, keys, body, field, words) -> None:  # type: ignore[no-untyped-def]
    response = _put(client, keys.admin, "alice", body)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(p["field"] == field and words.lower() in p["message"].lower() for p in problems), problems
    assert client.get("/api/developers/alice/consent", headers=keys.admin).status_code == 404, (
        "nothing stored"
    )


def test_invalid_developer_ids_are_a_422_naming_developer_id(client, keys) -> None:  # type: ignore[no-untyped-def]
    for developer in ("%20%20", "a%09b", "a%7Fb", "x" * 201):
        response = _put(client, keys.admin, developer, CONSENT)
        assert response.status_code == 422, (developer, response.text)
        assert response.json()["detail"][0]["field"] == "developer_id"
    slashed = _put(client, keys.admin, "team%2Falice", CONSENT)  # ids with a slash still route
    assert slashed.status_code == 201 and slashed.json()["developer_id"] == "team/alice"
    assert client.get("/api/developers/consent", headers=keys.admin).json()[0]["developer_id"] == "team/alice"


def test_cli_sets_shows_lists_and_removes(settings, database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from bugtrail.cli.app import app
    from bugtrail.consent import repository

    monkeypatch.setenv("BUGTRAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUGTRAIL_DATABASE_URL", settings.resolved_database_url)
    runner = CliRunner()
    args = [
        "consent",
        "set",
        "alice",
        "--licence",
        "cc-by-sa-4.0",
        "--external",
        "--given-at",
        "2026-04-02T10:00:00",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with database.scope(read_only=True) as session:
        row = repository.get(session, "alice")
        assert row is not None and row.licence == "CC-BY-SA-4.0" and row.external_use is True
        assert row.consent_given_at == datetime(2026, 4, 2, 10, 0, tzinfo=UTC)  # naive means UTC
        assert row.updated_by == "cli"

    assert (
        runner.invoke(
            app, ["consent", "set", "bob", "--licence", "internal", "--internal", "--pending"]
        ).exit_code
        == 0
    )
    shown = runner.invoke(app, ["consent", "show", "alice"])
    assert shown.exit_code == 0 and "CC-BY-SA-4.0" in shown.output
    listed = runner.invoke(app, ["consent", "list"])
    assert listed.exit_code == 0 and "alice" in listed.output and "pending" in listed.output

    bad = runner.invoke(app, ["consent", "set", "carol", "--licence", "internal", "--external"])
    assert (
        bad.exit_code == 1
        and "external_use cannot be true" in bad.output
        and "nothing was saved" in bad.output
    )
    unknown = runner.invoke(app, ["consent", "set", "carol", "--licence", "WTFPL", "--external"])
    assert unknown.exit_code == 1 and "--licence" in unknown.output
    assert runner.invoke(app, ["consent", "show", "carol"]).exit_code == 1

    assert runner.invoke(app, ["consent", "remove", "bob"]).exit_code == 0
    with database.scope(read_only=True) as session:
        assert [row.developer_id for row in repository.list_rows(session)] == ["alice"]
