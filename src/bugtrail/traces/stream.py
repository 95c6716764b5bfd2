"""One trace as the JSON document GET /api/traces/{id} returns, built incrementally: the header, then the
events one keyset page at a time, so memory does not grow with the trace (a 300 MB trace used to cost
+1.1 GiB per GET). Used by the GET route and by the JSONL export (one such document per line)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from bugtrail.traces import repository as repo
from bugtrail.wire import Curation, EventRead

_EVENTS: TypeAdapter[list[EventRead]] = TypeAdapter(list[EventRead])
_EMPTY_EVENTS = b'"events":[]'


def trace_document(
    session: Session,
    trace: Any,
    qa_result: Any | None,
    consent: Any | None = None,
    curation: Curation | None = None,
) -> Iterator[bytes]:
    """`trace`, `qa_result` and `consent` are ORM objects or Core rows with the models' attribute names
    (see repository.to_trace_read for consent and curation)."""
    # Serialised by the same models as before (TraceRead with no events), then the events spliced in:
    # the bytes are what the non-streamed response was. Inside JSON strings every quote is escaped,
    # so `"events":[]` occurs once, as the key.
    shell = repo.to_trace_read(trace, [], qa_result, consent, curation).model_dump_json().encode()
    cut = shell.index(_EMPTY_EVENTS) + len(_EMPTY_EVENTS) - 1
    yield shell[:cut]
    first = True
    for page in repo.iter_event_pages(session, trace.trace_id):
        encoded = _EVENTS.dump_json([repo.to_event_read(row) for row in page])
        yield encoded[1:-1] if first else b"," + encoded[1:-1]
        first = False
    yield shell[cut:]
