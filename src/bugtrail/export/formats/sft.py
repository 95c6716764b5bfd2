"""`sft`: one row per trace as OpenAI chat messages with tool calls, plus verdict, scores and metadata.

The bug is the user turn; reasoning notes are assistant content; each command is an assistant
`run_command` call answered by a `tool` message (output + exit code), each edit an `apply_diff` call
answered by "applied". Notes written before an action become the content of the assistant message that
makes the call, so roles always alternate legally: user, then (assistant with one tool call, tool)*,
then an assistant message for notes written after the last action. Every message has the same four keys
(absent ones null), so JSON readers and Arrow see one shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bugtrail.export.formats import record as rec
from bugtrail.export.formats.tools import (
    APPLY_DIFF,
    EDIT_RESULT,
    RUN_COMMAND,
    command_arguments,
    command_result,
    edit_arguments,
    tool_schemas,
)

SCHEMA_VERSION = "1.0.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionCall(_Strict):
    name: Literal["run_command", "apply_diff"]
    arguments: str = Field(description="the call's arguments as a JSON object in a string (OpenAI style)")


class ToolCall(_Strict):
    id: str = Field(description="call_NNNNNN, unique in the row; the tool message answering it repeats it")
    type: Literal["function"]
    function: FunctionCall


class Message(_Strict):
    role: Literal["user", "assistant", "tool"]
    content: str | None = Field(description="text; empty for an assistant turn that only calls a tool")
    tool_calls: list[ToolCall] | None = Field(description="assistant only: exactly one call")
    tool_call_id: str | None = Field(description="tool only: the id of the call this message answers")


class JudgeScores(_Strict):
    judge: str | None = Field(description="openai | heuristic")
    model: str | None
    rubric_version: str | None
    reasoning_score: float | None = Field(description="1-5")
    criteria: dict[str, float] = Field(description="1-5 per rubric criterion")
    flags: list[str] = Field(description="e.g. prompt_injection, no_reasoning, heuristic_not_llm")
    comments: str | None


class Consent(_Strict):
    given_at: str | None
    external_use: bool | None = Field(description="the developer allows use outside the organisation")


class UpstreamMatch(_Strict):
    commit: str | None = Field(description="a later upstream commit whose patch is near-identical")
    similarity: float | None


class StepReward(_Strict):
    event_id: str
    seq: int
    tool_call_id: str | None = Field(description="the run_command call of that test run")
    message_index: int | None = Field(description="index in messages of the tool message with its output")
    passed: int = Field(description="tests passing at this step")
    failed: int = Field(description="tests failing at this step")
    fail_to_pass_done: bool | None = Field(
        description="every fail-to-pass test passes at this step; null when the trace has none"
    )
    reward: float | None = Field(description="1.0 when fail_to_pass_done, 0.0 when not, null when unknown")


class SftRow(_Strict):
    """One exported `sft` row (the field descriptions are the dataset card's too)."""

    schema_version: str = Field(description="version of this row format; bumped whenever its schema changes")
    trace_id: str = Field(description="the trace's id in bugtrail (GET /api/traces/{id})")
    developer_id: str = Field(description="who recorded the session")
    repo_url: str = Field(description="the repository debugged")
    base_commit: str | None = Field(description="the commit the developer started from")
    test_command: str | None = Field(description="the command that runs the repository's tests")
    bug_description: str = Field(description="the bug as the developer described it (the user turn)")
    created_at: str = Field(description="ISO 8601, when the trace was created")
    messages: list[Message] = Field(description="the session as OpenAI chat messages with tool calls")
    message_timestamps: list[str | None] = Field(
        description="per message, when it happened (ISO 8601 as recorded): the trace's creation for the "
        "user turn, the command's or edit's event for a call and its result, the last note for closing notes"
    )
    tools: list[dict[str, Any]] = Field(description="OpenAI function schemas of run_command and apply_diff")
    tests_passed: bool | None = Field(description="the tests passed after replaying the edits (QA)")
    resolved: bool | None = Field(description="every fail-to-pass test passes and nothing regressed (QA)")
    outcome: str | None = Field(description="newest QA run: completed | skipped | error | judged_only")
    error_kind: str | None = Field(description="when outcome is error: environment | infrastructure | input")
    reasoning_score: float | None = Field(description="the judge's 1-5 score of the reasoning")
    judge: JudgeScores | None = Field(description="the judge's record: judge, model, criteria, flags")
    reviews: list[dict[str, Any]] = Field(description="human reviews as exported by the review service")
    review_decision: str | None = Field(description="the reviews' decision (e.g. accept, reject)")
    human_score: float | None = Field(description="the reviewers' score")
    licence: str | None = Field(description="the contributor's licence for this trace")
    consent: Consent | None = Field(description="when consent was given and whether external use is allowed")
    curation: dict[str, Any] | None = Field(description="time on task, counts, files touched, languages")
    upstream_commit: str | None = Field(description="a later upstream commit with a near-identical fix")
    upstream_match: UpstreamMatch | None = Field(description="QA's upstream comparison: commit, similarity")
    duplicate_of: str | None = Field(description="an earlier trace this one near-duplicates")
    step_rewards: list[StepReward] = Field(description="per-step test labels from QA checkpoints")
    secret_flags: list[str] = Field(description="kinds of secrets found in edit diffs (exported verbatim)")


def to_sft_row(record: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The row for one trace; `events` may be a generator over keyset pages (read once, in order)."""
    tally = rec.EventTally()
    checkpoints = rec.checkpoints(record)
    messages: list[dict[str, Any]] = [_message("user", rec.prompt(record))]
    times: list[str | None] = [rec.opt_str(record.get("created_at"))]
    last_note: str | None = None
    notes: list[str] = []
    rewards: list[dict[str, Any]] = []
    calls = 0
    for step in rec.steps(events, tally):
        if step.kind == "note":
            notes.append(rec.note_text(step.details))
            last_note = step.timestamp
            continue
        calls += 1
        call_id = f"call_{calls:06d}"
        if step.kind == "command":
            name, arguments, result = (
                RUN_COMMAND,
                command_arguments(step.details),
                command_result(step.details),
            )
        else:
            name, arguments, result = APPLY_DIFF, edit_arguments(step.details), EDIT_RESULT
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
        }
        messages.append(_message("assistant", "\n\n".join(notes), tool_calls=[call]))
        notes = []
        messages.append(_message("tool", result, tool_call_id=call_id))
        times.extend((step.timestamp, step.timestamp))
        if step.kind == "command" and (checkpoint := checkpoints.pop(step.event_id, None)) is not None:
            rewards.append(_reward(checkpoint, call_id, len(messages) - 1))
    if notes:
        messages.append(_message("assistant", "\n\n".join(notes)))
        times.append(last_note)
    # Checkpoints whose event is not a command of this trace still count as labels, unlinked.
    rewards.extend(_reward(checkpoint, None, None) for checkpoint in checkpoints.values())
    return {
        "schema_version": SCHEMA_VERSION,
        **header(record),
        "messages": messages,
        "message_timestamps": times,
        "tools": tool_schemas(),
        **rec.labels(record),
        "step_rewards": sorted(rewards, key=lambda reward: reward["seq"]),
        "secret_flags": sorted(tally.secret_flags),
    }


def header(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "trace_id": str(record.get("trace_id")),
        "developer_id": str(record.get("developer_id")),
        "repo_url": str(record.get("repo_url")),
        "base_commit": rec.opt_str(record.get("base_commit")),
        "test_command": rec.opt_str(record.get("test_command")),
        "bug_description": str(record.get("bug_description") or ""),
        "created_at": str(record.get("created_at")),
    }


def _message(
    role: str,
    content: str | None,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_call_id: str | None = None,
) -> dict[str, Any]:
    return {"role": role, "content": content, "tool_calls": tool_calls, "tool_call_id": tool_call_id}


def _reward(checkpoint: rec.Checkpoint, call_id: str | None, index: int | None) -> dict[str, Any]:
    return {**rec.step_reward(checkpoint, call_id), "message_index": index}
