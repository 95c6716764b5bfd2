"""Trace rules: who may see what, idempotent create/append, finalize with its QA job in one transaction."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.consent import repository as consent_repo
from bugtrail.db.models import Trace, utcnow
from bugtrail.errors import BadRequest, BugtrailError, Conflict, Forbidden, NotFound, TooLarge
from bugtrail.qa.tasks import enqueue_qa_job
from bugtrail.reviews import repository as reviews
from bugtrail.reviews import shape
from bugtrail.reviews.visibility import apply_view, blinding_for, trace_view
from bugtrail.traces import events as event_rows
from bugtrail.traces import repository as repo
from bugtrail.traces.redaction import redact_many
from bugtrail.webhooks import enqueue_event
from bugtrail.wire import (
    AppendResult,
    EventIn,
    FinalizeResult,
    TraceCreate,
    TraceCreated,
    TraceList,
    TraceRead,
)


def _visible_trace(session: Session, principal: Principal, trace_id: uuid.UUID, lock: bool = False) -> Trace:
    trace = repo.get_trace(session, str(trace_id), for_update=lock)
    # Another developer's trace is indistinguishable from a missing one (no existence oracle).
    if trace is None or (not principal.can_read_all and trace.developer_id != principal.developer_id):
        raise NotFound(f"trace {trace_id} not found")
    return trace


def _header(payload: TraceCreate, developer_id: str) -> dict[str, Any]:
    return {
        "developer_id": developer_id,
        "repo_url": payload.repo_url,
        "bug_description": payload.bug_description,
        "base_commit": payload.base_commit,
        "test_command": payload.test_command,
    }


def _header_hash(header: dict[str, Any], payload: TraceCreate) -> str:
    """The create payload's identity. The environment counts only when sent (the hashes of traces stored
    before it existed do not change), and without its defaults (a field added later changes no hash)."""
    if payload.environment is None:
        return event_rows.canonical_hash(header)
    sent = payload.environment.model_dump(mode="json", exclude_defaults=True)
    return event_rows.canonical_hash({**header, "environment": sent})


# Header fields a person typed: stored redacted (repo_url too: `https://user:token@host/...`).
_REDACTED_HEADER_FIELDS = ("repo_url", "bug_description", "test_command")


@dataclass(frozen=True)
class PreparedTrace:
    """A create request with its CPU-heavy work done (see events.prepare_events); no database used."""

    trace_id: str
    developer_id: str
    header: dict[str, Any]  # as stored: redacted
    header_hash: str  # of the header as sent (idempotency compares what the client sent)
    environment: dict[str, Any] | None  # the recorded environment, as sent (package names are not redacted)
    events: list[event_rows.PreparedEvent]


def prepare_trace(settings: Settings, principal: Principal, payload: TraceCreate) -> PreparedTrace:
    developer_id = payload.developer_id or principal.developer_id
    if developer_id != principal.developer_id and not principal.is_admin:
        raise Forbidden(
            "developer_id in the body differs from the API key's developer",
            detail={"key_developer_id": principal.developer_id, "body_developer_id": developer_id},
        )
    _check_event_count(settings, 0, len(payload.events))
    trace_uuid = payload.trace_id or uuid.uuid4()
    header = _header(payload, developer_id)
    header_hash = _header_hash(header, payload)
    fields = [name for name in _REDACTED_HEADER_FIELDS if header[name]]
    for name, (text, _found) in zip(fields, redact_many([header[name] for name in fields]), strict=True):
        header[name] = text
    return PreparedTrace(
        trace_id=str(trace_uuid),
        developer_id=developer_id,
        header=event_rows.without_nul(header),
        header_hash=header_hash,
        environment=_stored_environment(payload),
        # Events without an event_id get one derived from the trace and their position and content, so
        # resending the same complete trace is a no-op instead of a duplicate of every event.
        events=event_rows.prepare_events(payload.events, settings, derive_ids_in=trace_uuid),
    )


def _stored_environment(payload: TraceCreate) -> dict[str, Any] | None:
    """The environment as stored: package lines are kept, but a VCS or index URL can carry a token."""
    if payload.environment is None:
        return None
    environment = payload.environment.model_dump(mode="json")
    packages = environment.get("packages") or []
    environment["packages"] = [text for text, _found in redact_many(packages)] if packages else []
    return environment


def create_trace(
    session: Session, settings: Settings, principal: Principal, payload: TraceCreate, finalize: bool = False
) -> TraceCreated:
    return store_trace(session, settings, principal, prepare_trace(settings, principal, payload), finalize)


def store_trace(
    session: Session,
    settings: Settings,
    principal: Principal,
    prepared: PreparedTrace,
    finalize: bool = False,
) -> TraceCreated:
    """The database half of a create: short, so it holds the writer only briefly. Core statements, no ORM
    object: one INSERT ... ON CONFLICT DO NOTHING for a new trace; a taken trace_id is read and judged."""
    trace_id = prepared.trace_id
    created = bool(repo.insert_traces_if_absent(session, [trace_row(prepared)]))
    if created:
        target = repo.AppendTarget(trace_id, prepared.developer_id, "pending", 0, prepared.header_hash)
    else:  # an earlier (or a concurrent, now committed) create of this trace_id: judge it
        found = repo.append_targets(session, [trace_id]).get(trace_id)
        if found is None:  # unreachable: the row that refused our insert cannot vanish while we hold the lock
            raise Conflict(f"trace_id {trace_id} is being created; retry")
        target = found
        check_recreate(principal, target, prepared.header_hash)
    if prepared.events:
        stored = repo.event_hashes(session, trace_id, [str(event.event_id) for event in prepared.events])
        rows, _duplicates = _plan_append(settings, target, prepared.events, stored)
        repo.insert_events(session, rows)
        if rows:
            target.event_count += len(rows)
            repo.set_event_counts(session, {trace_id: target.event_count})
    status = target.status
    if finalize:  # rare (a complete trace in one request): the ORM row, as finalize_trace uses it
        trace = repo.get_trace(session, trace_id, for_update=True)
        assert trace is not None  # inserted or locked above, in this transaction
        _finalize(session, settings, trace)
        status = trace.status
    return TraceCreated(
        trace_id=uuid.UUID(trace_id), status=status, event_count=target.event_count, created=created
    )


def trace_row(prepared: PreparedTrace) -> dict[str, Any]:
    """The trace table row of a new trace (Core insert: the model's defaults are spelled out)."""
    now = utcnow()
    row = {
        "trace_id": prepared.trace_id,
        "status": "pending",
        "content_hash": prepared.header_hash,
        "event_count": 0,
        "created_at": now,
        "updated_at": now,
        **prepared.header,
    }
    if prepared.environment is not None:  # left out otherwise: SQL NULL, not JSON null
        row["environment"] = prepared.environment
    return row


def check_recreate(principal: Principal, existing: repo.AppendTarget, header_hash: str) -> None:
    """A create of a trace_id already stored: an identical retry by its developer (or an admin) is a
    no-op; anything else is refused without saying more than it must."""
    trace_id = existing.trace_id
    if existing.developer_id != principal.developer_id and not principal.is_admin:
        if principal.can_read_all:  # a reviewer may see it anyway: say what is wrong
            raise Conflict(f"trace_id {trace_id} is already taken")
        # Someone else's trace id: answered exactly as an unknown trace is (no existence oracle).
        raise NotFound(f"trace {trace_id} not found")
    if existing.content_hash != header_hash:
        raise Conflict(
            f"trace {trace_id} already exists with different content",
            detail={"hint": "use a new trace_id, or resend exactly the original trace"},
        )


@dataclass(frozen=True)
class CreateRequest:
    """One create request of a group commit (api/group_commit.py): no events, no finalize."""

    principal: Principal
    prepared: PreparedTrace


def store_creates(session: Session, requests: Sequence[CreateRequest]) -> list[TraceCreated | Exception]:
    """Many creates in one statement (INSERT ... ON CONFLICT DO NOTHING RETURNING), plus one read of the
    trace_ids that were taken, each judged as store_trace judges it. A trace_id repeated in the group is
    inserted by its first request; the later ones are retries of it, judged against it."""
    firsts: dict[str, PreparedTrace] = {}
    for request in requests:
        firsts.setdefault(request.prepared.trace_id, request.prepared)
    inserted = repo.insert_traces_if_absent(session, [trace_row(prepared) for prepared in firsts.values()])
    targets = repo.append_targets(session, [trace_id for trace_id in firsts if trace_id not in inserted])
    for trace_id in inserted:
        first = firsts[trace_id]
        targets[trace_id] = repo.AppendTarget(trace_id, first.developer_id, "pending", 0, first.header_hash)
    outcomes: list[TraceCreated | Exception] = []
    for request in requests:
        prepared = request.prepared
        target = targets.get(prepared.trace_id)
        created = prepared.trace_id in inserted and firsts[prepared.trace_id] is prepared
        try:
            if target is None:  # taken, yet gone by the time it was read: a retry will settle it
                raise Conflict(f"trace_id {prepared.trace_id} is being created; retry")
            if not created:
                check_recreate(request.principal, target, prepared.header_hash)
        except BugtrailError as exc:
            outcomes.append(exc)
            continue
        outcomes.append(
            TraceCreated(
                trace_id=uuid.UUID(prepared.trace_id),
                status=target.status,
                event_count=target.event_count,
                created=created,
            )
        )
    return outcomes


def prepare_append(settings: Settings, events: Sequence[EventIn]) -> list[event_rows.PreparedEvent]:
    _check_event_count(settings, 0, len(events))
    return event_rows.prepare_events(events, settings)


def append_events(
    session: Session, settings: Settings, principal: Principal, trace_id: uuid.UUID, events: Sequence[EventIn]
) -> AppendResult:
    return store_events(session, settings, principal, trace_id, prepare_append(settings, events))


def store_events(
    session: Session,
    settings: Settings,
    principal: Principal,
    trace_id: uuid.UUID,
    prepared: Sequence[event_rows.PreparedEvent],
) -> AppendResult:
    trace = _visible_trace(session, principal, trace_id, lock=True)
    if trace.developer_id != principal.developer_id and not principal.is_admin:
        raise Forbidden("only the trace's developer may append events to it")
    return _append(session, settings, trace, prepared)


def _check_event_count(settings: Settings, current: int, new: int) -> None:
    if new > settings.max_events_per_batch:
        raise TooLarge(
            f"a request may carry at most {settings.max_events_per_batch} events; this one has {new}",
            detail={"limit": settings.max_events_per_batch, "hint": "send the events in several batches"},
        )
    if current + new > settings.max_events_per_trace:
        raise TooLarge(
            f"a trace may hold at most {settings.max_events_per_trace} events "
            f"(it has {current}, this request adds {new})",
            detail={"limit": settings.max_events_per_trace},
        )


def _append(
    session: Session, settings: Settings, trace: Trace, events: Sequence[event_rows.PreparedEvent]
) -> AppendResult:
    stored = repo.event_hashes(session, trace.trace_id, [str(event.event_id) for event in events])
    target = repo.AppendTarget(trace.trace_id, trace.developer_id, trace.status, trace.event_count)
    rows, duplicates = _plan_append(settings, target, events, stored)
    repo.insert_events(session, rows)
    if rows:
        trace.event_count += len(rows)
        trace.updated_at = utcnow()
        session.flush()
    return _append_result(trace.trace_id, len(rows), duplicates, events, trace.event_count)


def _plan_append(
    settings: Settings,
    target: repo.AppendTarget,
    events: Sequence[event_rows.PreparedEvent],
    stored: Mapping[str, str],
) -> tuple[list[dict[str, Any]], int]:
    """The rows to insert and the number of duplicates, or the request's error; writes nothing.
    `stored` maps the event ids already on the trace to their content hashes."""
    # Check the whole batch against itself and the stored events before anything is written.
    planned: list[event_rows.PreparedEvent] = []
    seen_in_batch: dict[uuid.UUID, str] = {}
    duplicates = 0
    for event in events:
        if event.event_id in seen_in_batch:
            if seen_in_batch[event.event_id] != event.content_hash:
                raise Conflict(
                    f"events[{event.index}]: event_id {event.event_id} appears twice in the batch "
                    "with different content"
                )
            duplicates += 1
            continue
        seen_in_batch[event.event_id] = event.content_hash
        planned.append(event)

    fresh: list[event_rows.PreparedEvent] = []
    for event in planned:
        stored_hash = stored.get(str(event.event_id))
        if stored_hash is None:
            fresh.append(event)
            continue
        if stored_hash != event.content_hash:
            raise Conflict(
                f"events[{event.index}]: event_id {event.event_id} was already stored with different content",
                detail={"event_index": event.index, "event_id": str(event.event_id)},
            )
        duplicates += 1

    if fresh and target.status != "pending":
        raise Conflict(
            f"trace {target.trace_id} is finalized ({target.status}); no events can be appended",
            detail={"status": target.status},
        )
    _check_event_count(settings, target.event_count, len(fresh))
    return event_rows.event_rows(target.trace_id, target.event_count + 1, fresh), duplicates


def _append_result(
    trace_id: str, accepted: int, duplicates: int, events: Sequence[event_rows.PreparedEvent], count: int
) -> AppendResult:
    return AppendResult(
        trace_id=uuid.UUID(trace_id),
        accepted=accepted,
        duplicates=duplicates,
        event_ids=[event.event_id for event in events],
        event_count=count,
    )


@dataclass(frozen=True)
class AppendRequest:
    """One append request of a group commit (api/group_commit.py)."""

    principal: Principal
    trace_id: uuid.UUID
    events: Sequence[event_rows.PreparedEvent]


def store_appends(
    session: Session, settings: Settings, requests: Sequence[AppendRequest]
) -> list[AppendResult | Exception]:
    """Many append requests in a few statements: read their traces and stored hashes at once, apply the
    same rules as store_events to each request in order (a request sees the events of the requests
    before it), then insert every accepted row and update every trace's count at once. A request that
    breaks a rule gets its error and writes nothing; the others are unaffected."""
    wanted: dict[str, set[str]] = {}
    for request in requests:
        wanted.setdefault(str(request.trace_id), set()).update(str(e.event_id) for e in request.events)
    targets, stored = repo.append_state(session, wanted)
    added: dict[str, dict[str, str]] = {}  # event hashes written by earlier requests of this group
    rows: list[dict[str, Any]] = []
    outcomes: list[AppendResult | Exception] = []
    for request in requests:
        trace_id = str(request.trace_id)
        target = targets.get(trace_id)
        try:
            if target is None or not _may_see(request.principal, target.developer_id):
                raise NotFound(f"trace {request.trace_id} not found")
            if target.developer_id != request.principal.developer_id and not request.principal.is_admin:
                raise Forbidden("only the trace's developer may append events to it")
            on_trace = added.setdefault(trace_id, {})
            known: dict[str, str] = {}
            for event_id in (str(event.event_id) for event in request.events):
                known_hash = stored.get((trace_id, event_id)) or on_trace.get(event_id)
                if known_hash is not None:
                    known[event_id] = known_hash
            new_rows, duplicates = _plan_append(settings, target, request.events, known)
        except BugtrailError as exc:
            outcomes.append(exc)
            continue
        rows.extend(new_rows)
        on_trace.update((row["event_id"], row["content_hash"]) for row in new_rows)
        target.event_count += len(new_rows)
        outcomes.append(
            _append_result(trace_id, len(new_rows), duplicates, request.events, target.event_count)
        )
    repo.insert_events(session, rows)
    repo.set_event_counts(
        session, {trace_id: targets[trace_id].event_count for trace_id in added if added[trace_id]}
    )
    return outcomes


def _may_see(principal: Principal, developer_id: str) -> bool:
    return principal.can_read_all or developer_id == principal.developer_id


def finalize_trace(
    session: Session, settings: Settings, principal: Principal, trace_id: uuid.UUID
) -> FinalizeResult:
    trace = _visible_trace(session, principal, trace_id, lock=True)
    if trace.developer_id != principal.developer_id and not principal.is_admin:
        raise Forbidden("only the trace's developer (or an admin) may finalize it")
    return _finalize(session, settings, trace)


def _finalize(session: Session, settings: Settings, trace: Trace) -> FinalizeResult:
    if trace.status != "pending":
        return FinalizeResult(
            trace_id=uuid.UUID(trace.trace_id),
            status=trace.status,
            already_finalized=True,
        )
    # Curation metadata in the same transaction: no event can be appended once the trace is finalized.
    repo.set_curation(
        session,
        trace,
        repo.compute_trace_curation(session, trace.trace_id, trace.test_command, settings.active_gap_s),
    )
    now = utcnow()
    trace.status = "queued"
    trace.finalized_at = now
    trace.updated_at = now
    job = enqueue_qa_job(session, trace.trace_id, max_attempts=settings.job_max_attempts)
    enqueue_event(
        session,
        "trace.finalized",
        {
            "trace_id": trace.trace_id,
            "developer_id": trace.developer_id,
            "event_count": trace.event_count,
            "job_id": job.id,
        },
    )
    return FinalizeResult(trace_id=uuid.UUID(trace.trace_id), status="queued", job_id=job.id)


def get_trace(session: Session, principal: Principal, trace_id: uuid.UUID) -> TraceRead:
    """The whole trace in memory: for callers that need the model (the finalize wait, small traces)."""
    trace = _visible_trace(session, principal, trace_id)
    view = trace_view(session, principal, trace.trace_id, trace.developer_id)
    read = repo.to_trace_read(
        trace,
        repo.load_events(session, trace.trace_id),
        repo.get_qa_result(session, trace.latest_qa_result_id),
        consent=consent_repo.get(session, trace.developer_id),
        curation=repo.curation_on_read(session, trace, repo.DEFAULT_ACTIVE_GAP_S),
        reviews=shape.trace_reviews(reviews.reviews_of(session, trace.trace_id), view),
    )
    return apply_view(read, view)


def check_visible(session: Session, principal: Principal, trace_id: uuid.UUID) -> None:
    _visible_trace(session, principal, trace_id)


def trace_outcome(
    session: Session, principal: Principal, trace_id: uuid.UUID
) -> tuple[str, dict[str, Any] | None]:
    """Status and newest QA document, without loading the events (a finalize?wait= answer)."""
    trace = _visible_trace(session, principal, trace_id)
    qa_result = repo.get_qa_result(session, trace.latest_qa_result_id)
    return trace.status, qa_result.result if qa_result is not None else None


def trace_status(session: Session, principal: Principal, trace_id: uuid.UUID) -> str:
    return _visible_trace(session, principal, trace_id).status


def list_traces(
    session: Session, principal: Principal, filters: repo.TraceFilter, limit: int, cursor: str | None
) -> TraceList:
    if not principal.can_read_all:
        if filters.developer_id not in (None, principal.developer_id):
            raise Forbidden("developers can only list their own traces")
        filters = repo.TraceFilter(**{**filters.__dict__, "developer_id": principal.developer_id})
    after = decode_cursor(cursor) if cursor else None
    rows = repo.list_traces(session, filters, limit + 1, after)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].created_at, page[-1].trace_id) if more and page else None
    blinding = blinding_for(session, principal, [trace.trace_id for trace in page])
    items = [apply_view(repo.to_summary(t), blinding.view(t.trace_id, t.developer_id)) for t in page]
    return TraceList(items=items, next_cursor=next_cursor)


def encode_cursor(created_at: datetime, trace_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), trace_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, trace_id = json.loads(raw)
        return datetime.fromisoformat(created_at), str(uuid.UUID(trace_id))
    except (ValueError, TypeError) as exc:
        raise BadRequest("cursor is not valid; pass next_cursor from a previous page unchanged") from exc
