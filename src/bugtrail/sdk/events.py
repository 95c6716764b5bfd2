"""Build event bodies exactly as the server's wire format expects them, with the client-side caps.

No pydantic here (importing bugtrail.wire costs ~130 ms per CLI call); the checks mirror wire.py's rules
so a bad event is refused before it is spooled instead of being rejected by the server later.
"""

from __future__ import annotations

import json
import posixpath
import re
import uuid
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = ("edit", "command", "reasoning")
REASONING_TYPES = ("hypothesis", "alternative", "rationale", "observation", "outcome", "plan")
CONFIDENCES = ("low", "medium", "high")
MAX_NOTE_BYTES = 1024 * 1024


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def check_repo_relative_path(path: str) -> str:
    # The same rules as wire.check_repo_relative_path (tests/unit/test_sdk_wire_parity.py keeps them equal).
    if not path.strip() or "\x00" in path or "\\" in path:
        raise ValueError(f"file must be a repo-relative path, got {path!r}")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"file must be a repo-relative path, got {path!r}")
    if ".." in path.split("/"):
        raise ValueError(f"file must not contain '..': {path!r}")
    if posixpath.normpath(path) == ".":
        raise ValueError(f"file does not name a file inside the repository: {path!r}")
    return path


def make_event(
    event_type: str,
    details: dict[str, Any],
    *,
    event_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event type must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
    if event_type == "edit":
        check_repo_relative_path(str(details.get("file", "")))
        details.setdefault("diff", "")
    elif event_type == "command":
        if not details.get("command"):
            raise ValueError("a command event needs details.command")
    else:
        check_note(details)
    return {
        "event_id": str(uuid.UUID(event_id)) if event_id else str(uuid.uuid4()),
        "type": event_type,
        "timestamp": timestamp or now_iso(),
        "details": details,
    }


def check_note(details: dict[str, Any]) -> None:
    text = details.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a note needs some text")
    if len(text.encode("utf-8")) > MAX_NOTE_BYTES:
        raise ValueError("a note is limited to 1 MiB of text")
    if details.get("reasoning_type") not in REASONING_TYPES:
        raise ValueError(f"note type must be one of {', '.join(REASONING_TYPES)}")
    if details.get("confidence") not in (None, *CONFIDENCES):
        raise ValueError(f"confidence must be one of {', '.join(CONFIDENCES)}")
    refers = details.get("refers_to")
    if refers is not None:
        details["refers_to"] = [str(uuid.UUID(str(item))) for item in refers]
