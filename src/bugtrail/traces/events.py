"""Turn validated wire events into rows: stable content hashes, output caps, secret redaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC
from typing import Any

from bugtrail.config import Settings
from bugtrail.errors import TooLarge
from bugtrail.traces.redaction import find_secrets, redact_text
from bugtrail.wire import CommandEvent, EditEvent, EventIn, ReasoningEvent

TRUNCATION_MARKER = "\n…[bugtrail: {omitted} of {total} bytes omitted from the middle]…\n"


def canonical_hash(value: Any) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def event_content(event: EventIn) -> dict[str, Any]:
    """What identifies an event's content for idempotency: as the client sent it, before server rewrites."""
    return {
        "type": event.type,
        "timestamp": event.timestamp.isoformat(),
        "details": event.details.model_dump(mode="json", exclude_none=True),
    }


def cap_head_tail(text: str, max_bytes: int) -> tuple[str, int | None]:
    """Keep the head and tail of `text` within max_bytes; returns (text, original size or None)."""
    raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) <= max_bytes:
        return text, None
    half = max(0, (max_bytes - 200) // 2)
    head = raw[:half].decode("utf-8", errors="ignore")
    tail = raw[len(raw) - half :].decode("utf-8", errors="ignore")
    marker = TRUNCATION_MARKER.format(omitted=len(raw) - 2 * half, total=len(raw))
    return head + marker + tail, len(raw)


def _check_size(name: str, text: str, limit: int, index: int) -> None:
    if len(text) > limit and len(text.encode("utf-8", errors="surrogatepass")) > limit:
        raise TooLarge(
            f"events[{index}].details.{name} is larger than the limit of {limit} bytes",
            detail={"event_index": index, "field": name, "limit_bytes": limit},
        )


def stored_details(event: EventIn, settings: Settings, index: int) -> tuple[dict[str, Any], int]:
    """The details as stored: (details, number of secrets redacted)."""
    details = event.details.model_dump(mode="json", exclude_none=True)
    redactions = 0
    if isinstance(event, CommandEvent):
        _check_size("command", details["command"], settings.max_text_bytes, index)
        details["command"], found = redact_text(details["command"])
        redactions += found
        # Redact before trimming so a secret that straddles the cut is never left half visible.
        output, found = redact_text(details.get("output", ""))
        redactions += found
        details["output"], original = cap_head_tail(output, settings.max_command_output_bytes)
        if original is not None:
            details["output_truncated"] = True
            details["output_original_bytes"] = original
    elif isinstance(event, ReasoningEvent):
        _check_size("text", details["text"], settings.max_text_bytes, index)
        details["text"], redactions = redact_text(details["text"])
    elif isinstance(event, EditEvent):
        # Diffs are never rewritten (QA must apply them), only flagged.
        _check_size("diff", details.get("diff", ""), settings.max_diff_bytes, index)
        kinds = find_secrets(details.get("diff", ""))
        if kinds:
            details["secret_flags"] = sorted(set(kinds))
    return without_nul(details), redactions


def without_nul(value: Any) -> Any:
    """NUL -> U+FFFD in every string and key: PostgreSQL's text and JSONB cannot hold NUL (it answered 500),
    and terminal output sometimes carries it. Done on both databases so they store the same thing."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def event_row(
    event: EventIn, trace_id: str, seq: int, event_id: str, content_hash: str, settings: Settings, index: int
) -> dict[str, Any]:
    details, redactions = stored_details(event, settings, index)
    return {
        "trace_id": trace_id,
        "event_id": event_id,
        "seq": seq,
        "event_type": event.type,
        "event_timestamp": event.timestamp.isoformat(),
        "ts_utc": event.timestamp.astimezone(UTC).replace(tzinfo=None),
        "details": details,
        "content_hash": content_hash,
        "redactions": redactions,
    }


def new_event_id() -> str:
    return str(uuid.uuid4())
