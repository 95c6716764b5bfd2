"""Turn validated wire events into rows: stable content hashes, output caps, secret redaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import orjson

from bugtrail.config import Settings
from bugtrail.errors import TooLarge
from bugtrail.traces.redaction import find_secrets_many, redact_many
from bugtrail.wire import CommandEvent, EventIn, ReasoningEvent

TRUNCATION_MARKER = "\n…[bugtrail: {omitted} of {total} bytes omitted from the middle]…\n"


def canonical_hash(value: Any) -> str:
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # lone surrogates (from JSON escapes), which orjson refuses: the slow, exact path
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        encoded = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(encoded).hexdigest()


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


def stored_details(
    events: Sequence[tuple[int, EventIn]], settings: Settings
) -> list[tuple[dict[str, Any], int]]:
    """The details as stored, with the number of secrets redacted, for (request index, event) pairs.

    Texts of the whole batch are redacted in one scan (redact_many); command output is redacted before it
    is trimmed, so a secret that straddles the cut is never left half visible."""
    stored: list[dict[str, Any]] = []
    texts: list[str] = []
    text_slots: list[tuple[int, str]] = []
    diffs: list[str] = []
    diff_slots: list[int] = []
    for position, (index, event) in enumerate(events):
        details = event.details.model_dump(mode="json", exclude_none=True)
        if isinstance(event, CommandEvent):
            _check_size("command", details["command"], settings.max_text_bytes, index)
            details.setdefault("output", "")
            keys: tuple[str, ...] = ("command", "output")
        elif isinstance(event, ReasoningEvent):
            _check_size("text", details["text"], settings.max_text_bytes, index)
            keys = ("text",)
        else:
            # Diffs are never rewritten (QA must apply them), only flagged.
            _check_size("diff", details.get("diff", ""), settings.max_diff_bytes, index)
            diffs.append(details.get("diff", ""))
            diff_slots.append(position)
            keys = ()
        for key in keys:
            texts.append(details[key])
            text_slots.append((position, key))
        stored.append(details)

    redactions = [0] * len(stored)
    for (position, key), (text, found) in zip(text_slots, redact_many(texts), strict=True):
        stored[position][key] = text
        redactions[position] += found
    for position, kinds in zip(diff_slots, find_secrets_many(diffs), strict=True):
        if kinds:
            stored[position]["secret_flags"] = kinds
    for details, (_, event) in zip(stored, events, strict=True):
        if isinstance(event, CommandEvent):
            details["output"], original = cap_head_tail(details["output"], settings.max_command_output_bytes)
            if original is not None:
                details["output_truncated"] = True
                details["output_original_bytes"] = original
    return [(without_nul(details), count) for details, count in zip(stored, redactions, strict=True)]


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


def event_rows(
    trace_id: str, first_seq: int, events: Sequence[tuple[int, EventIn, str, str]], settings: Settings
) -> list[dict[str, Any]]:
    """Rows for new events (request index, event, event_id, content hash), numbered from first_seq."""
    stored = stored_details([(index, event) for index, event, _, _ in events], settings)
    return [
        {
            "trace_id": trace_id,
            "event_id": event_id,
            "seq": first_seq + offset,
            "event_type": event.type,
            "event_timestamp": event.timestamp.isoformat(),
            "ts_utc": event.timestamp.astimezone(UTC).replace(tzinfo=None),
            "details": details,
            "content_hash": content_hash,
            "redactions": redactions,
        }
        for offset, ((_, event, event_id, content_hash), (details, redactions)) in enumerate(
            zip(events, stored, strict=True)
        )
    ]
