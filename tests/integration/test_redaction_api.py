"""Secrets are redacted server-side before storage, with a count on the event; diffs are only flagged."""

from __future__ import annotations

from tests.support.traces import event, seed

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GH_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def test_secrets_redacted_in_commands_output_and_reasoning(client, keys) -> None:
    events = [
        event(
            "command",
            "2026-11-26T09:00:00Z",
            command=f"curl https://bob:hunter2@example.com/x -H 'x: {GH_TOKEN}'",
            output=f"export AWS_ACCESS_KEY_ID={AWS_KEY}\nok",
            working_directory="/w",
            exit_code=0,
        ),
        event(
            "reasoning",
            "2026-11-26T09:01:00Z",
            text=f"The token {GH_TOKEN} leaked",
            reasoning_type="observation",
        ),
        event(
            "edit",
            "2026-11-26T09:02:00Z",
            file="settings.py",
            diff=f"--- a/settings.py\n+++ b/settings.py\n@@ -1 +1 @@\n-KEY = ''\n+KEY = '{AWS_KEY}'\n",
        ),
    ]
    trace_id = client.post("/api/traces", json=seed(events=events), headers=keys.alice).json()["trace_id"]
    stored = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"]
    command, note, edit = stored
    text = str(command["details"]) + str(note["details"])
    assert AWS_KEY not in text and GH_TOKEN not in text and "hunter2" not in text
    assert "[REDACTED:" in command["details"]["output"]
    assert command["redactions"] >= 3 and note["redactions"] == 1
    assert AWS_KEY in edit["details"]["diff"]  # diffs must still apply in QA
    assert edit["details"]["secret_flags"]
    # Idempotency compares what the client sent, so a resend is still a duplicate.
    again = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=keys.alice).json()
    assert again["duplicates"] == 3 and again["accepted"] == 0
