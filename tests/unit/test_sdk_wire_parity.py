"""The recorder builds events without pydantic (sdk/events.py); they must agree with the server's wire.py.

The vocabularies must be the same tuples, every event the SDK builds must validate as the server's EventIn,
and a file path the SDK accepts must be one the server accepts (and the reverse), so a bad event is refused
before it is spooled, never later by the server.
"""

from __future__ import annotations

import typing
import uuid

import pytest
from pydantic import TypeAdapter, ValidationError

from bugtrail import wire
from bugtrail.sdk import events

EVENT_IN = TypeAdapter(wire.EventIn)
PATHS = [
    "calc.py",
    "src/pkg/mod.py",
    "a b/c.txt",
    "./calc.py",
    "",
    " ",
    ".",
    "./",
    "a/..",
    "../x",
    "a/../b",
    "/etc/passwd",
    "C:/x",
    "a\\b",
    "a\x00b",
]


def test_vocabularies_are_the_servers() -> None:
    assert typing.get_args(wire.EventType) == events.EVENT_TYPES
    assert events.REASONING_TYPES == wire.REASONING_TYPES == typing.get_args(wire.ReasoningType)
    assert typing.get_args(wire.Confidence) == events.CONFIDENCES


def test_note_size_cap_is_the_servers_text_cap() -> None:
    from bugtrail.config import Settings

    assert Settings().max_text_bytes == events.MAX_NOTE_BYTES


@pytest.mark.parametrize("path", PATHS)
def test_sdk_and_server_agree_on_file_paths(path: str) -> None:
    def accepted(check: typing.Callable[[str], str]) -> bool:
        try:
            check(path)
        except ValueError:
            return False
        return True

    assert accepted(events.check_repo_relative_path) == accepted(wire.check_repo_relative_path)


@pytest.mark.parametrize(
    ("event_type", "details"),
    [
        ("edit", {"file": "calc.py", "diff": "--- a/calc.py\n+++ b/calc.py\n", "change": "fix"}),
        ("edit", {"file": "new.txt"}),
        ("command", {"command": "pytest -q", "output": "1 failed", "exit_code": 1, "duration_ms": 12}),
        ("reasoning", {"text": "add() subtracts", "reasoning_type": "hypothesis", "confidence": "high"}),
        ("reasoning", {"text": "fixed", "reasoning_type": "outcome", "refers_to": [str(uuid.uuid4())]}),
    ]
    + [("reasoning", {"text": "x", "reasoning_type": kind}) for kind in events.REASONING_TYPES],
)
def test_every_event_the_sdk_builds_is_valid_on_the_wire(event_type: str, details: dict) -> None:
    built = events.make_event(event_type, dict(details))
    parsed = EVENT_IN.validate_python(built)
    assert parsed.type == event_type and str(parsed.event_id) == built["event_id"]


@pytest.mark.parametrize(
    ("event_type", "details"),
    [
        ("edit", {"file": "../outside.py"}),
        ("reasoning", {"text": "", "reasoning_type": "hypothesis"}),
        ("reasoning", {"text": "x", "reasoning_type": "guess"}),
        ("reasoning", {"text": "x", "reasoning_type": "plan", "confidence": "certain"}),
        ("review", {"text": "x"}),
    ],
)
def test_what_the_sdk_refuses_the_server_refuses_too(event_type: str, details: dict) -> None:
    # (The SDK may be stricter, e.g. it refuses an empty command; it must never be more lenient.)
    with pytest.raises(ValueError):
        events.make_event(event_type, dict(details))
    body = {"event_id": str(uuid.uuid4()), "type": event_type, "timestamp": events.now_iso()}
    with pytest.raises(ValidationError):
        EVENT_IN.validate_python({**body, "details": details})
