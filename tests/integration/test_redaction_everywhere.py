"""Issue 10: a token in ANY field a person types or a tool prints is stored redacted: every string of the
trace header, every string in details (known and unknown keys, nested), command, output and reasoning.
Only an edit's diff (and file) stay verbatim, flagged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bugtrail.db.engine import Database
from bugtrail.traces import repository as repo
from tests.support.traces import event

TOKEN = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"
TS = "2026-11-30T06:00:00Z"
LINE = f"export GH_TOKEN={TOKEN}"

HEADER_FIELDS = {
    "bug_description": f"fails after {LINE}",
    "test_command": f"GH_TOKEN={TOKEN} pytest -q",
    "repo_url": "https://bob:s3cr3t-Passw0rd@github.com/o/r",
}
EVENT_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("command.command", {"command": f"gh auth login --with-token {TOKEN}"}, "command"),
    ("command.output", {"command": "env", "output": LINE}, "output"),
    (
        "command.working_directory",
        {"command": "ls", "working_directory": f"/tmp/{TOKEN}"},
        "working_directory",
    ),
    ("command.unknown", {"command": "ls", "shell_note": LINE}, "shell_note"),
    ("command.nested", {"command": "ls", "meta": {"env": [LINE]}}, "meta"),
    ("reasoning.text", {"text": f"the {TOKEN} leaked", "reasoning_type": "observation"}, "text"),
    ("reasoning.unknown", {"text": "x", "reasoning_type": "plan", "context": LINE}, "context"),
    ("edit.change", {"file": "a.py", "diff": "", "change": f"rotate {TOKEN}"}, "change"),
    ("edit.nested", {"file": "a.py", "diff": "", "extra": {"deep": {"note": LINE}}}, "extra"),
]


def _trace(**header: Any) -> dict[str, Any]:
    return {"repo_url": "https://github.com/o/r", "bug_description": "a bug", **header}


@pytest.mark.parametrize("field", list(HEADER_FIELDS))
def test_token_in_header_field_is_stored_redacted(client, keys, field: str) -> None:  # type: ignore[no-untyped-def]
    sent = HEADER_FIELDS[field]
    created = client.post("/api/traces", json=_trace(**{field: sent}), headers=keys.alice)
    assert created.status_code == 201, created.text
    trace_id = created.json()["trace_id"]
    stored = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert TOKEN not in json.dumps(stored) and "s3cr3t-Passw0rd" not in json.dumps(stored)
    assert "[REDACTED:" in stored[field]
    listed = client.get("/api/traces", headers=keys.alice).json()["items"]
    assert TOKEN not in json.dumps(listed) and "s3cr3t-Passw0rd" not in json.dumps(listed)
    # The header hash is of what was sent: resending the same create is still an idempotent retry.
    again = client.post(
        "/api/traces", json={**_trace(**{field: sent}), "trace_id": trace_id}, headers=keys.alice
    )
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(("kind_and_key", "details", "key"), EVENT_FIELDS, ids=[f[0] for f in EVENT_FIELDS])
def test_token_in_every_details_field_is_stored_redacted(  # type: ignore[no-untyped-def]
    client, keys, kind_and_key: str, details: dict[str, Any], key: str
) -> None:
    kind = kind_and_key.split(".")[0]
    body = _trace(events=[event(kind, TS, **details)])
    trace_id = client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"]
    stored_event = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"][0]
    assert TOKEN not in json.dumps(stored_event)
    assert "[REDACTED:" in json.dumps(stored_event["details"][key])
    assert stored_event["redactions"] >= 1
    exported = client.get("/api/export", params={"use": "internal"}, headers=keys.admin).text
    assert TOKEN not in exported and "[REDACTED:" in exported


def test_diffs_stay_verbatim_and_flagged(client, keys) -> None:  # type: ignore[no-untyped-def]
    diff = f"--- a/ci.sh\n+++ b/ci.sh\n@@ -1 +1 @@\n-x\n+{LINE}\n"
    body = _trace(events=[event("edit", TS, file="ci.sh", diff=diff, change="ci")])
    trace_id = client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"]
    stored = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"][0]["details"]
    assert stored["diff"] == diff  # QA must be able to apply it
    assert stored["secret_flags"] == ["github-token"]


def test_streamed_get_is_the_same_document(  # type: ignore[no-untyped-def]
    client, keys, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo, "PAGE_FIRST", 3)  # several keyset pages, and pages that grow
    monkeypatch.setattr(repo, "PAGE_MAX", 7)
    events = [
        event("command", f"2026-11-30T06:{minute:02d}:00Z", command="ls", output="é\n" * 3000)
        for minute in range(40)
    ] + [event("reasoning", TS, text='quote " and "events":[] inside', reasoning_type="plan")]
    body = _trace(events=events, bug_description='has "events":[] in it')
    trace_id = client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"]
    response = client.get(f"/api/traces/{trace_id}", headers=keys.alice)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with database.scope(read_only=True) as session:
        whole = repo.get_trace_read(session, trace_id)
    assert whole is not None
    assert response.json() == json.loads(whole.model_dump_json())
    assert len(response.json()["events"]) == 41


def test_taken_trace_id_is_404_to_other_developers_and_409_to_reviewers(client, keys) -> None:  # type: ignore[no-untyped-def]
    body = {**_trace(bug_description="alice's"), "trace_id": "3f1c2a4e-0000-4000-8000-00000000abcd"}
    assert client.post("/api/traces", json=body, headers=keys.alice).status_code == 201
    as_bob = client.post("/api/traces", json={**body, "bug_description": "bob's"}, headers=keys.bob)
    assert as_bob.status_code == 404 and as_bob.json()["error"] == f"trace {body['trace_id']} not found"
    as_reviewer = client.post("/api/traces", json=body, headers=keys.reviewer)
    assert as_reviewer.status_code == 409
    stored = client.get(f"/api/traces/{body['trace_id']}", headers=keys.alice).json()
    assert stored["bug_description"] == "alice's" and stored["developer_id"] == "alice"


def test_token_in_a_recorded_package_url_is_stored_redacted(client, keys) -> None:  # type: ignore[no-untyped-def]
    pinned = f"private-lib @ git+https://ci:{TOKEN}@github.com/o/private-lib.git@{'a' * 40}"
    environment = {"python_version": "3.11.7", "packages": ["six==1.16.0", pinned]}
    body = {**_trace(), "environment": environment}
    created = client.post("/api/traces", json=body, headers=keys.alice)
    assert created.status_code == 201, created.text
    trace_id = created.json()["trace_id"]
    stored = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["environment"]
    assert TOKEN not in json.dumps(stored)
    assert stored["packages"][0] == "six==1.16.0"  # package pins are kept as sent
    assert stored["packages"][1].startswith("private-lib @ git+https://ci:[REDACTED:")
    # Idempotency compares what was sent: the same create again is a no-op, not a conflict.
    again = client.post("/api/traces", json={**body, "trace_id": trace_id}, headers=keys.alice)
    assert again.status_code == 200 and again.json()["created"] is False, again.text
