"""`adp`: one Agent Data Protocol trajectory per trace, validated against the schema before it is written.

The bug is a user text observation. Reasoning notes become the `reasoning_content` of the action that
follows them (notes after the last action become a closing message action). A command is a bash code
action (prefixed with `cd DIR &&` when it ran below the repository root) answered by an environment text
observation with its output and exit code; an edit is an `apply_diff` API action answered by "applied".
QA checkpoints put their reward on the command of that test run. Everything else the `sft` row carries
as columns is in `details`, with this format's own version as `details.bugtrail_schema_version`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from bugtrail.errors import BugtrailError
from bugtrail.export.formats import record as rec
from bugtrail.export.formats.adp_schema import (
    ApiAction,
    CodeAction,
    ContentItem,
    MessageAction,
    TextObservation,
    Trajectory,
)
from bugtrail.export.formats.sft import header
from bugtrail.export.formats.tools import (
    APPLY_DIFF,
    EDIT_RESULT,
    command_result,
    edit_arguments,
    tool_schemas,
)

SCHEMA_VERSION = "1.0.0"


class InvalidRow(BugtrailError):
    """A converter produced a row its schema rejects: a bug in the converter, never written."""

    status_code = 500


def to_adp_row(record: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    tally = rec.EventTally()
    checkpoints = rec.checkpoints(record)
    content: list[ContentItem] = [TextObservation(content=rec.prompt(record), source="user")]
    notes: list[str] = []
    rewards: list[dict[str, Any]] = []
    calls = 0
    for step in rec.steps(events, tally):
        if step.kind == "note":
            notes.append(rec.note_text(step.details))
            continue
        calls += 1
        call_id = f"call_{calls:06d}"
        thinking = "\n\n".join(notes) or None
        notes = []
        if step.kind == "command":
            checkpoint = checkpoints.pop(step.event_id, None)
            content.append(
                CodeAction(
                    language="bash",
                    content=_command_line(step.details),
                    description=None,
                    tool_call_id=call_id,
                    reasoning_content=thinking,
                    reward=checkpoint.reward if checkpoint else None,
                )
            )
            result = command_result(step.details)
            if checkpoint is not None:
                rewards.append({**rec.step_reward(checkpoint, call_id), "content_index": len(content) - 1})
        else:
            content.append(
                ApiAction(
                    function=APPLY_DIFF,
                    kwargs=edit_arguments(step.details),
                    tool_call_id=call_id,
                    reasoning_content=thinking,
                )
            )
            result = EDIT_RESULT
        content.append(TextObservation(content=result, source="environment", tool_call_id=call_id))
    if notes:
        content.append(MessageAction(content="\n\n".join(notes)))
    trace_id = str(record.get("trace_id"))
    details = {
        "bugtrail_schema_version": SCHEMA_VERSION,
        **header(record),
        **rec.labels(record),
        "custom_tools": [tool for tool in tool_schemas() if tool["function"]["name"] == APPLY_DIFF],
        "step_rewards": sorted(
            rewards
            + [{**rec.step_reward(point, None), "content_index": None} for point in checkpoints.values()],
            key=lambda reward: reward["seq"],
        ),
        "secret_flags": sorted(tally.secret_flags),
    }
    try:
        trajectory = Trajectory(
            id=trace_id,
            content=content,
            available_code_languages=["bash"]
            if any(isinstance(item, CodeAction) for item in content)
            else None,
            details=details,
        )
        # Validated again from the JSON form: what is written is what a reader's validator sees.
        row = trajectory.model_dump(mode="json")
        Trajectory.model_validate(row)
    except ValidationError as exc:
        raise InvalidRow(f"trace {trace_id}: its adp row does not validate", detail=exc.errors()) from exc
    return row


def _command_line(details: Mapping[str, Any]) -> str:
    command = str(details.get("command") or "")
    cwd = str(details.get("working_directory") or ".")
    return command if cwd in ("", ".") else f"cd {shlex.quote(cwd)} && {command}"
