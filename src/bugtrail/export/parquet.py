"""Parquet: one row per trace with nested events (list<struct>), or one row per event.

Event `details`, the trace's recorded `environment` and the `qa_results` document are JSON strings: their
keys vary by event type and by QA outcome, and a JSON column round-trips them exactly in pandas, pyarrow,
duckdb and datasets. The QA document goes through qa.result.QaResult on the way, so it is the API's shape
(older schemas upgraded).
Row groups are written incrementally with ParquetWriter, one per batch, so memory stays one batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bugtrail.consent.schemas import trace_licence
from bugtrail.export.repository import TraceBundle
from bugtrail.qa.result import QaResult
from bugtrail.traces.repository import stored_curation
from bugtrail.wire import REASONING_TYPES

_UTC = pa.timestamp("us", tz="UTC")

EVENT_STRUCT = pa.struct(
    [
        ("event_id", pa.string()),
        ("seq", pa.int32()),
        ("type", pa.string()),
        ("timestamp", pa.string()),  # exactly as sent: ISO 8601 with the sender's offset
        ("details", pa.string()),  # JSON
        ("redactions", pa.int32()),
    ]
)

_TRACE_FIELDS = [
    ("trace_id", pa.string()),
    ("developer_id", pa.string()),
    ("repo_url", pa.string()),
    ("bug_description", pa.string()),
    ("base_commit", pa.string()),
    ("test_command", pa.string()),
    ("status", pa.string()),
    ("event_count", pa.int32()),
    ("created_at", _UTC),
    ("updated_at", _UTC),
    ("finalized_at", _UTC),
    ("tests_passed", pa.bool_()),
    ("resolved", pa.bool_()),
    ("reasoning_score", pa.float64()),
    ("upstream_commit", pa.string()),
    ("duplicate_of", pa.string()),
]

# wire.TraceConsent and wire.Curation as structs: fixed fields a researcher filters on
# (`curation.active_time_s`, `consent.external_use`) without parsing JSON.
CONSENT_STRUCT = pa.struct([("given_at", _UTC), ("external_use", pa.bool_())])
CURATION_STRUCT = pa.struct(
    [
        ("version", pa.int32()),
        ("started_at", _UTC),
        ("ended_at", _UTC),
        ("time_on_task_s", pa.float64()),
        ("active_time_s", pa.float64()),
        ("active_gap_s", pa.float64()),
        *[(name, pa.int64()) for name in ("events", "edits", "commands", "failed_commands")],
        *[(name, pa.int64()) for name in ("test_runs", "test_runs_failed")],
        ("notes", pa.struct([(kind, pa.int64()) for kind in REASONING_TYPES])),
        ("files_touched", pa.int64()),
        ("files", pa.list_(pa.string())),
        ("lines_added", pa.int64()),
        ("lines_removed", pa.int64()),
        ("lines_touched", pa.int64()),
        ("binary_edits", pa.int64()),
        ("languages", pa.list_(pa.string())),
        ("out_of_order_events", pa.int64()),
    ]
)
# What every row carries, whatever the layout: the licence it is exported under and the consent.
_CONSENT_FIELDS = [("licence", pa.string()), ("consent", CONSENT_STRUCT)]

TRACE_SCHEMA = pa.schema(
    [
        *_TRACE_FIELDS,
        *_CONSENT_FIELDS,
        ("curation", CURATION_STRUCT),
        ("environment", pa.string()),  # JSON (wire.RecordedEnvironment) or null
        ("events", pa.list_(EVENT_STRUCT)),
        ("qa_results", pa.string()),
    ]
)

EVENT_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("developer_id", pa.string()),
        ("repo_url", pa.string()),
        ("status", pa.string()),
        ("trace_created_at", _UTC),
        ("tests_passed", pa.bool_()),
        ("resolved", pa.bool_()),
        ("reasoning_score", pa.float64()),
        *_CONSENT_FIELDS,
        *[(name, EVENT_STRUCT.field(name).type) for name in EVENT_STRUCT.names],
    ]
)


def schema_for(layout: str) -> pa.Schema:
    return EVENT_SCHEMA if layout == "event" else TRACE_SCHEMA


def _events(bundle: TraceBundle) -> list[dict[str, Any]]:
    return [
        {
            "event_id": event.event_id,
            "seq": event.seq,
            "type": event.event_type,
            "timestamp": event.event_timestamp,
            "details": event.details,  # JSON text (json_as_text=True)
            "redactions": event.redactions,
        }
        for event in bundle.events
    ]


def batch_table(batch: list[TraceBundle], layout: str) -> pa.Table:
    """Built straight from the rows (no Pydantic round trip): the same fields as TraceRead."""
    rows: list[dict[str, Any]] = []
    for bundle in batch:
        header = {name: getattr(bundle.trace, name) for name, _ in _TRACE_FIELDS}
        licence, consent = trace_licence(bundle.consent)
        header["licence"] = licence
        header["consent"] = consent.model_dump() if consent is not None else None
        events = _events(bundle)
        if layout == "event":
            shared = {key: header[key] for key in EVENT_SCHEMA.names if key in header}
            shared["trace_created_at"] = header["created_at"]
            rows.extend({**shared, **event} for event in events)
        else:
            qa = _qa_json(bundle.qa_result.result) if bundle.qa_result is not None else None
            environment = _json_text(bundle.trace.environment)
            curation = _curation(bundle)
            rows.append(
                {
                    **header,
                    "curation": curation,
                    "environment": environment,
                    "events": events,
                    "qa_results": qa,
                }
            )
    return pa.Table.from_pylist(rows, schema=schema_for(layout))


def _curation(bundle: TraceBundle) -> dict[str, Any] | None:
    curation = bundle.curation or stored_curation(bundle.trace.curation)
    if curation is None:
        return None
    row = curation.model_dump()
    row["notes"] = {kind: row["notes"].get(kind, 0) for kind in REASONING_TYPES}
    return row


def _qa_json(stored: str | dict[str, Any] | None) -> str | None:
    """The document as the API serves it: through the typed model, so older schemas come out upgraded."""
    if stored is None:
        return None
    if isinstance(stored, str):
        return QaResult.model_validate_json(stored).model_dump_json()
    return QaResult.model_validate(stored).model_dump_json()


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):  # already JSON text (json_as_text=True)
        return None if value == "null" else value
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class IncrementalParquetWriter:
    """Appends one row group per batch; the footer is written on close()."""

    def __init__(self, path: Path, layout: str) -> None:
        self.layout = layout
        self.rows = 0
        self._writer = pq.ParquetWriter(str(path), schema_for(layout), compression="zstd")

    def write_batch(self, batch: list[TraceBundle]) -> None:
        table = batch_table(batch, self.layout)
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
