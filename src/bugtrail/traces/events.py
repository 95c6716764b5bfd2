"""Turn validated wire events into rows: stable content hashes, output caps, secret redaction."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from bugtrail.config import Settings
from bugtrail.errors import TooLarge
from bugtrail.traces.redaction import find_secrets_many, redact_many
from bugtrail.wire import CommandEvent, EditEvent, EventIn, ReasoningEvent

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


# The cut moves to a line break within this distance, so a secret on one line is kept whole or dropped whole.
_LINE_SNAP_BYTES = 4096
_KEY_END = re.compile(rb"-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----")


def cap_head_tail(text: str, max_bytes: int) -> tuple[str, int | None]:
    """Keep the head and tail of `text` within max_bytes; returns (text, original size or None).

    Runs BEFORE redaction (redaction then costs the kept bytes only). The cuts snap to line breaks, and a
    tail that starts inside a private key block (its END line without a BEGIN) drops the block's rest, so
    nothing of a secret cut in two survives."""
    raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) <= max_bytes:
        return text, None
    half = max(0, (max_bytes - 200) // 2)
    head_end = raw.rfind(b"\n", max(0, half - _LINE_SNAP_BYTES), half)
    head_end = head_end + 1 if head_end != -1 else half
    tail_start = len(raw) - half
    snapped = raw.find(b"\n", tail_start, tail_start + _LINE_SNAP_BYTES)
    tail_start = snapped + 1 if snapped != -1 else tail_start
    key_end = _KEY_END.search(raw, tail_start)
    if key_end is not None and raw.find(b"-----BEGIN", tail_start, key_end.start()) == -1:
        tail_start = key_end.end()
    head = raw[:head_end].decode("utf-8", errors="ignore")
    tail = raw[tail_start:].decode("utf-8", errors="ignore")
    marker = TRUNCATION_MARKER.format(omitted=tail_start - head_end, total=len(raw))
    return head + marker + tail, len(raw)


def _check_size(name: str, text: str, limit: int, index: int) -> None:
    if len(text) > limit and len(text.encode("utf-8", errors="surrogatepass")) > limit:
        raise TooLarge(
            f"events[{index}].details.{name} is larger than the limit of {limit} bytes",
            detail={"event_index": index, "field": name, "limit_bytes": limit},
        )


# Kept verbatim (QA applies them) and flagged in `secret_flags` instead of rewritten.
_VERBATIM_EDIT_KEYS = ("diff", "file")


def string_slots(value: dict[str, Any], skip: tuple[str, ...] = ()) -> list[tuple[Any, Any]]:
    """(container, key) of every string inside `value`, nested dicts and lists included (iteratively),
    except the top-level keys in `skip`."""
    slots: list[tuple[Any, Any]] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if item is value and key in skip:
                continue
            if isinstance(child, str):
                slots.append((item, key))
            elif isinstance(child, (dict, list)):
                stack.append(child)
    return slots


def stored_details(
    events: Sequence[tuple[int, EventIn]], settings: Settings
) -> list[tuple[dict[str, Any], int]]:
    """The details as stored, with the number of secrets redacted, for (request index, event) pairs.

    Every string a person typed or a tool printed is redacted: known and unknown keys, nested ones too.
    Only an edit's diff and file stay verbatim (QA must apply them); secrets there are flagged. Command
    output is capped (head + tail) first, so redaction only costs what is kept."""
    stored: list[dict[str, Any]] = []
    slots: list[tuple[int, Any, Any]] = []
    diffs: list[str] = []
    diff_slots: list[int] = []
    for position, (index, event) in enumerate(events):
        details = event.details.model_dump(mode="json", exclude_none=True)
        if isinstance(event, CommandEvent):
            _check_size("command", details["command"], settings.max_text_bytes, index)
            details.setdefault("output", "")
            details["output"], original = cap_head_tail(details["output"], settings.max_command_output_bytes)
            if original is not None:
                details["output_truncated"] = True
                details["output_original_bytes"] = original
        elif isinstance(event, ReasoningEvent):
            _check_size("text", details["text"], settings.max_text_bytes, index)
        else:
            _check_size("diff", details.get("diff", ""), settings.max_diff_bytes, index)
            diffs.append(details["file"] + "\n" + details.get("diff", ""))
            diff_slots.append(position)
        skip = _VERBATIM_EDIT_KEYS if isinstance(event, EditEvent) else ()
        slots.extend((position, container, key) for container, key in string_slots(details, skip))
        stored.append(details)

    redactions = [0] * len(stored)
    texts = [container[key] for _, container, key in slots]
    for (position, container, key), (text, found) in zip(slots, redact_many(texts), strict=True):
        container[key] = text
        redactions[position] += found
    for position, kinds in zip(diff_slots, find_secrets_many(diffs), strict=True):
        if kinds:
            stored[position]["secret_flags"] = kinds
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


@dataclass(frozen=True)
class PreparedEvent:
    """An event ready to store: everything CPU-heavy (hashing, capping, redaction) done, no database used."""

    index: int  # position in the request
    event_id: uuid.UUID
    content_hash: str
    event_type: str
    timestamp: datetime
    details: dict[str, Any]
    redactions: int


def prepare_events(
    events: Sequence[EventIn], settings: Settings, derive_ids_in: uuid.UUID | None = None
) -> list[PreparedEvent]:
    """Runs before the request takes the database writer (api/db_gate.py), so a slow batch (1 MiB of
    pathological redaction input) never holds other developers' appends back.

    Events without an event_id get one derived from the trace, their position and content when
    `derive_ids_in` is given (resending a complete trace is then a no-op), else a random one."""
    hashes = [canonical_hash(event_content(event)) for event in events]
    stored = stored_details(list(enumerate(events)), settings)
    prepared: list[PreparedEvent] = []
    for index, (event, content_hash, (details, redactions)) in enumerate(
        zip(events, hashes, stored, strict=True)
    ):
        if event.event_id:
            event_id = event.event_id
        elif derive_ids_in is not None:
            event_id = uuid.uuid5(derive_ids_in, f"{index}:{content_hash}")
        else:
            event_id = uuid.uuid4()
        prepared.append(
            PreparedEvent(index, event_id, content_hash, event.type, event.timestamp, details, redactions)
        )
    return prepared


def event_rows(trace_id: str, first_seq: int, events: Sequence[PreparedEvent]) -> list[dict[str, Any]]:
    """Rows for new events, numbered from first_seq."""
    return [
        {
            "trace_id": trace_id,
            "event_id": str(event.event_id),
            "seq": first_seq + offset,
            "event_type": event.event_type,
            "event_timestamp": event.timestamp.isoformat(),
            "ts_utc": event.timestamp,  # aware; UtcDateTime stores it as UTC
            "details": event.details,
            "content_hash": event.content_hash,
            "redactions": event.redactions,
        }
        for offset, event in enumerate(events)
    ]
