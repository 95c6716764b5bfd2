"""The two tools a recorded session is expressed with: OpenAI function schemas, shared by `sft` and `adp`.

A developer's commands become `run_command` calls and their edits `apply_diff` calls; the schemas travel
with every exported row (the `tools` column) so a trainer can put them in the chat template's tool list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

RUN_COMMAND = "run_command"
APPLY_DIFF = "apply_diff"
EDIT_RESULT = "applied"

_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": RUN_COMMAND,
            "description": (
                "Run a shell command in the repository's work tree and return its combined output "
                "followed by its exit code."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "the command line, as typed in a shell"},
                    "cwd": {
                        "type": "string",
                        "description": "working directory relative to the repository root ('.' for the root)",
                    },
                },
                "required": ["command", "cwd"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": APPLY_DIFF,
            "description": (
                "Apply a unified diff to one file of the repository (the file's state after the previous "
                "edit). Returns 'applied'."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "description": "repository-relative path of the file"},
                    "diff": {"type": "string", "description": "unified diff of that one file"},
                },
                "required": ["file", "diff"],
                "additionalProperties": False,
            },
        },
    },
]


_TOOLS_JSON = json.dumps(_TOOLS)


def tool_schemas() -> list[dict[str, Any]]:
    """A fresh copy (callers put it in rows; a shared mutable list would be a trap). Parsing the JSON is
    several times faster than deepcopy, and it runs once per exported row."""
    return json.loads(_TOOLS_JSON)


def command_arguments(details: Mapping[str, Any]) -> dict[str, str]:
    return {"command": str(details.get("command") or ""), "cwd": str(details.get("working_directory") or ".")}


def edit_arguments(details: Mapping[str, Any]) -> dict[str, str]:
    return {"file": str(details.get("file") or ""), "diff": str(details.get("diff") or "")}


def command_result(details: Mapping[str, Any]) -> str:
    """What the tool returns: the captured output, then the exit code on a line of its own."""
    output = str(details.get("output") or "")
    exit_code = details.get("exit_code")
    if exit_code is None:
        return output
    separator = "" if not output or output.endswith("\n") else "\n"
    return f"{output}{separator}[exit code: {exit_code}]"
