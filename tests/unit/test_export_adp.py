"""`adp` rows: ADP 1.5.0 trajectories that validate, with reasoning_content, linked tool results and rewards;
the schema models refuse what the specification refuses."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bugtrail.export.formats.adp import SCHEMA_VERSION, InvalidRow, to_adp_row
from bugtrail.export.formats.adp_schema import ADP_SCHEMA_VERSION, Trajectory
from tests.support.export_records import CONTROL, INJECTION, empty_record, full_record, hostile_record


def _row(record):
    row = to_adp_row(record, iter(record["events"]))
    Trajectory.model_validate(json.loads(json.dumps(row)))  # what a reader of the JSONL validates
    return row


def test_a_full_record_is_a_valid_trajectory_with_reasoning_on_the_actions():
    row = _row(full_record())
    assert row["schema_version"] == ADP_SCHEMA_VERSION and row["id"] == full_record()["trace_id"]
    classes = [item["class_"] for item in row["content"]]
    assert classes == [
        "text_observation",
        *["code_action", "text_observation", "api_action", "text_observation"],
        "code_action",
        "text_observation",
        "message_action",
    ]
    user, command, output, edit, applied, second, _, final = row["content"]
    assert user["source"] == "user" and "add() returns the wrong result" in user["content"]
    assert command["language"] == "bash" and command["content"] == "pytest -q"
    assert command["reasoning_content"].startswith("Hypothesis (medium confidence): add() subtracts?")
    assert output == {
        "class_": "text_observation",
        "tool_call_id": command["tool_call_id"],
        "reward": None,
        "content": "1 failed\nE assert -1 == 3\n[exit code: 1]",
        "source": "environment",
    }
    assert edit["function"] == "apply_diff" and edit["kwargs"]["file"] == "calc.py"
    assert applied["content"] == "applied" and applied["tool_call_id"] == edit["tool_call_id"]
    assert second["content"] == "cd 'sub dir' && pytest -q tests"
    assert (
        final["content"] == "Outcome (high confidence): fixed: + instead of -" and "tool_call_id" not in final
    )
    assert row["available_code_languages"] == ["bash"]


def test_checkpoint_rewards_sit_on_the_command_and_labels_in_details():
    row = _row(full_record())
    assert [item.get("reward") for item in row["content"] if item["class_"] == "code_action"] == [0.0, 1.0]
    details = row["details"]
    assert details["bugtrail_schema_version"] == SCHEMA_VERSION
    assert [reward["content_index"] for reward in details["step_rewards"]] == [1, 5]
    assert details["licence"] == "CC-BY-4.0" and details["review_decision"] == "accept"
    assert details["consent"]["external_use"] is True
    assert details["upstream_match"]["similarity"] == 0.97 and details["human_score"] == 3.5
    assert details["custom_tools"][0]["function"]["name"] == "apply_diff"


def test_an_empty_trace_is_the_bug_alone():
    row = _row(empty_record())
    assert [item["class_"] for item in row["content"]] == ["text_observation"]
    assert "available_code_languages" not in row


def test_hostile_text_is_kept_exactly():
    row = _row(hostile_record(output_bytes=2 * 1024 * 1024))
    assert row["content"][0]["content"].startswith(INJECTION + CONTROL)
    assert row["content"][1]["reasoning_content"] == f"Hypothesis: {INJECTION}"
    assert row["content"][2]["content"] == "x" * (2 * 1024 * 1024) + CONTROL + "\n[exit code: 0]"
    assert row["content"][3]["kwargs"]["file"] == "we ird/<|im_start|>.py"


def test_a_row_that_cannot_validate_is_an_error_naming_the_trace():
    record = empty_record()
    record["trace_id"] = ""
    with pytest.raises(InvalidRow, match="trace : its adp row does not validate"):
        to_adp_row(record, [])


def _call(call_id=None):
    item = {"class_": "code_action", "language": "bash", "content": "ls", "description": None}
    return item if call_id is None else {**item, "tool_call_id": call_id}


def _result(call_id=None, source="environment"):
    item = {"class_": "text_observation", "content": "out", "source": source}
    return item if call_id is None else {**item, "tool_call_id": call_id}


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ([_call(), _result()], {}, "needs a tool_call_id"),
        ([_call("c1")], {}, "without a result"),
        ([_result("c1")], {}, "answers no earlier action"),
        ([_call("c1"), _call("c1")], {}, "duplicate tool_call_id"),
        ([_call("c1"), _result("c1"), _result("c1")], {}, "second result"),
        ([_call("c1"), _result("c1", source="user")], {}, "must not have source 'user'"),
        ([{"class_": "message_action", "content": "hi", "tool_call_id": "c1"}], {}, "not a tool call"),
        ([{"class_": "message_action", "content": "hi", "extra": 1}], {}, "Extra inputs"),
        ([_call("c1"), _result("c1")], {"available_code_languages": ["bash", "python"]}, "must equal"),
        ([], {"schema_version": "9.9.9"}, "schema_version"),
        ([], {"unknown": True}, "Extra inputs"),
    ],
)
def test_the_schema_refuses_what_the_specification_refuses(content, extra, message):
    with pytest.raises(ValidationError, match=message):
        Trajectory.model_validate({"id": "x", "content": content, **extra})
