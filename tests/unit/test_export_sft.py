"""`sft` rows: legal chat turns with paired tool calls, other domains' labels, hostile text kept exact."""

from __future__ import annotations

import json

import pytest

from bugtrail.export.formats.sft import SCHEMA_VERSION, SftRow, to_sft_row
from bugtrail.export.formats.tools import tool_schemas
from tests.support.chat import TemplateError, check_conversation, render_chatml
from tests.support.export_records import CONTROL, INJECTION, empty_record, full_record, hostile_record


def _row(record):
    row = to_sft_row(record, iter(record["events"]))  # events as a one-pass iterator, like the export's pages
    SftRow.model_validate(row)
    json.dumps(row)  # JSON-ready as built
    return row


def test_a_full_record_becomes_paired_tool_calls_with_notes_as_assistant_content():
    row = _row(full_record())
    messages = row["messages"]
    check_conversation(messages)
    render_chatml(messages, row["tools"])
    assert [m["role"] for m in messages] == ["user", *["assistant", "tool"] * 3, "assistant"]
    assert "add() returns the wrong result" in messages[0]["content"]
    assert "Test command: pytest -q" in messages[0]["content"]
    # The two notes before the first command are that assistant turn's content.
    assert messages[1]["content"] == (
        "Hypothesis (medium confidence): add() subtracts?\n\nPlan: check with the failing test first"
    )
    first = messages[1]["tool_calls"][0]
    assert first["function"]["name"] == "run_command"
    assert json.loads(first["function"]["arguments"]) == {"command": "pytest -q", "cwd": "."}
    assert messages[2] == {
        "role": "tool",
        "content": "1 failed\nE assert -1 == 3\n[exit code: 1]",
        "tool_calls": None,
        "tool_call_id": first["id"],
    }
    edit = messages[3]["tool_calls"][0]["function"]
    assert edit["name"] == "apply_diff" and json.loads(edit["arguments"])["file"] == "calc.py"
    assert messages[4]["content"] == "applied"
    assert json.loads(messages[5]["tool_calls"][0]["function"]["arguments"])["cwd"] == "sub dir"
    assert messages[-1] == {
        "role": "assistant",
        "content": "Outcome (high confidence): fixed: + instead of -",
        "tool_calls": None,
        "tool_call_id": None,
    }
    assert row["tools"] == tool_schemas()
    # One timestamp per message: the trace's creation, then each call's event, then the last note.
    assert len(row["message_timestamps"]) == len(messages)
    assert row["message_timestamps"][:3] == [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:02Z",
        "2026-03-01T12:00:02Z",
    ]
    assert row["message_timestamps"][-1] == "2026-03-01T12:00:05Z"


def test_columns_carry_verdict_scores_reviews_licence_and_provenance():
    row = _row(full_record())
    assert row["schema_version"] == SCHEMA_VERSION
    assert (row["trace_id"], row["developer_id"], row["base_commit"]) == (
        full_record()["trace_id"],
        "alice",
        "a" * 40,
    )
    assert (row["tests_passed"], row["resolved"], row["outcome"], row["error_kind"]) == (
        True,
        True,
        "completed",
        None,
    )
    assert row["reasoning_score"] == 4.5
    assert row["judge"]["criteria"] == {"hypothesis_quality": 4.0, "consistency": 5.0}
    assert row["judge"]["model"] == "gpt-4o"
    assert [review["reviewer_id"] for review in row["reviews"]] == ["rev1", "rev2"]
    assert (row["review_decision"], row["human_score"]) == ("accept", 3.5)
    assert row["licence"] == "CC-BY-4.0"
    assert row["consent"] == {"given_at": "2026-01-05T09:00:00Z", "external_use": True}
    assert row["curation"]["active_time_s"] == 5.0 and row["curation"]["languages"] == ["Python"]
    assert row["upstream_commit"] == "b" * 40
    assert row["upstream_match"] == {"commit": "b" * 40, "similarity": 0.97}
    assert row["duplicate_of"] is None
    assert row["secret_flags"] == ["AWS Access Key"]


def test_checkpoints_become_step_rewards_on_the_tool_message_of_that_test_run():
    row = _row(full_record())
    first, last = row["step_rewards"]
    for reward in (first, last):
        answered = row["messages"][reward["message_index"]]
        assert answered["role"] == "tool" and answered["tool_call_id"] == reward["tool_call_id"]
    assert (first["passed"], first["failed"], first["fail_to_pass_done"], first["reward"]) == (
        1,
        1,
        False,
        0.0,
    )
    assert (last["passed"], last["failed"], last["fail_to_pass_done"], last["reward"]) == (2, 0, True, 1.0)
    assert "1 passed" in row["messages"][last["message_index"]]["content"]


def test_a_trace_without_events_or_qa_or_other_keys_is_just_the_user_turn():
    row = _row(empty_record())
    assert [m["role"] for m in row["messages"]] == ["user"]
    check_conversation(row["messages"])
    assert row["step_rewards"] == [] and row["reviews"] == [] and row["judge"] is None
    assert row["licence"] is None and row["consent"] is None and row["outcome"] is None


def test_hostile_text_stays_data_exactly_and_the_turns_stay_legal():
    record = hostile_record(output_bytes=3 * 1024 * 1024)
    row = _row(record)
    messages = row["messages"]
    check_conversation(messages)
    render_chatml(messages, row["tools"])
    assert messages[0]["content"].startswith(INJECTION + CONTROL)
    big = messages[2]
    assert big["role"] == "tool" and big["content"] == "x" * (3 * 1024 * 1024) + CONTROL + "\n[exit code: 0]"
    arguments = json.loads(messages[1]["tool_calls"][0]["function"]["arguments"])
    assert arguments["command"] == "cat big.log " + CONTROL  # control characters survive, escaped in JSON
    assert json.loads(messages[3]["tool_calls"][0]["function"]["arguments"])["diff"] == INJECTION
    assert messages[6]["content"] == ""  # an exit code of None adds no line; empty output stays empty
    assert messages[-1]["content"] == f"Observation: {CONTROL}\n\nOutcome: final {INJECTION}"
    assert row["licence"] == record["licence"]


def test_the_template_check_refuses_an_unanswered_call():
    row = _row(full_record())
    broken = [m for m in row["messages"] if m["role"] != "tool"]
    with pytest.raises(TemplateError, match="unanswered"):
        render_chatml(broken)
    with pytest.raises(AssertionError):
        check_conversation(broken)


def test_malformed_optional_keys_are_ignored_not_guessed():
    record = full_record()
    record["reviews"] = "not a list"
    record["consent"] = ["given"]
    record["qa_results"]["checkpoints"] = [None, {"seq": 3}, "x", {"event_id": "nope", "passed": "many"}]
    record["qa_results"]["judge"] = {"criteria": {"a": True, "b": "5", "c": 3}}
    row = _row(record)
    assert row["reviews"] == [] and row["consent"] is None
    assert row["judge"]["criteria"] == {"c": 3.0}
    # A checkpoint on an event that is not a command of the trace stays a label, unlinked.
    assert [(r["event_id"], r["tool_call_id"], r["passed"]) for r in row["step_rewards"]] == [
        ("nope", None, 0)
    ]
