"""Group commit (api/group_commit.py) on real SQLite and PostgreSQL: many requests, one transaction, and
still per-request semantics: a conflicting request fails alone, retries are idempotent, order is kept.

The committer is driven two ways: directly (every request submitted before the writer runs, so they are
one group for certain) and over HTTP from many threads (a real server; groups form under load).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugtrail.api.deps import group_committer
from bugtrail.api.group_commit import Batch
from bugtrail.auth.keys import Principal
from bugtrail.db.models import Event, Trace
from bugtrail.errors import Conflict, NotFound
from bugtrail.traces import service
from bugtrail.traces.events import prepare_events
from bugtrail.wire import EventIn, TraceCreate
from tests.support.server import live_app_server
from tests.support.traces import reasoning, seed


def run_in_own_loop(make: Any) -> Any:
    """asyncio.run(make()) in a thread of its own: an earlier test (Playwright's sync API) may have left an
    event loop running in the main thread, where asyncio.run refuses to start."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _principal(database, name: str) -> Principal:  # type: ignore[no-untyped-def]
    from bugtrail.auth.keys import create_key

    with database.scope() as session:
        row, _ = create_key(session, name, "developer")
        return Principal(key_id=row.id, developer_id=name, role="developer")


def _new_trace(database, settings, principal: Principal) -> uuid.UUID:  # type: ignore[no-untyped-def]
    payload = TraceCreate.model_validate(seed(events=[], developer_id=principal.developer_id))
    with database.scope() as session:
        return service.create_trace(session, settings, principal, payload).trace_id


def _prepared(settings, *events: dict[str, Any]):  # type: ignore[no-untyped-def]
    from pydantic import TypeAdapter

    adapter: TypeAdapter[EventIn] = TypeAdapter(EventIn)
    return prepare_events([adapter.validate_python(event) for event in events], settings)


def _append(app, settings, principal: Principal, trace_id: uuid.UUID, prepared):  # type: ignore[no-untyped-def]
    """Submit one append exactly as the route does (the same work and batch)."""
    return group_committer(app).submit(
        lambda session: service.store_events(session, settings, principal, trace_id, prepared),
        order_key=str(trace_id),
        events=len(prepared),
        batch=Batch(
            "traces.append",
            lambda session, requests: service.store_appends(session, settings, requests),
            service.AppendRequest(principal, trace_id, prepared),
            stage=1,
        ),
    )


def _create(app, settings, principal: Principal, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Submit one bare create exactly as the route does (the same work and batch)."""
    prepared = service.prepare_trace(settings, principal, TraceCreate.model_validate(body))
    return group_committer(app).submit(
        lambda session: service.store_trace(session, settings, principal, prepared),
        order_key=prepared.trace_id,
        batch=Batch(
            "traces.create",
            lambda session, requests: service.store_creates(session, requests),
            service.CreateRequest(principal, prepared),
            stage=0,
        ),
    )


def _rows(database, trace_id: uuid.UUID) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with database.scope(read_only=True) as session:
        rows = session.execute(
            select(Event.event_id, Event.seq).where(Event.trace_id == str(trace_id)).order_by(Event.seq)
        )
        return [(row.event_id, row.seq) for row in rows]


def test_one_group_a_conflict_fails_alone_and_order_is_kept(app, database, settings) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _principal(database, "alice"), _principal(database, "bob")
    trace, bobs_trace = _new_trace(database, settings, alice), _new_trace(database, settings, bob)
    events = [reasoning(f"2026-11-26T10:00:{i:02d}+00:00", text=f"step {i}") for i in range(12)]
    clash = {**events[3], "details": {"text": "other content, same id", "reasoning_type": "plan"}}
    requests = [
        *[(alice, trace, _prepared(settings, event)) for event in events[:6]],
        (alice, trace, _prepared(settings, clash)),  # 409: events[3]'s id, written earlier in this group
        (alice, bobs_trace, _prepared(settings, events[6])),  # 404: not alice's trace
        (alice, trace, _prepared(settings, events[2])),  # a retry of an earlier request: a duplicate
        (alice, trace, _prepared(settings, *events[6:])),  # a batch of six
    ]

    async def submit_all() -> list[Any]:
        return await asyncio.gather(
            *(_append(app, settings, who, where, prepared) for who, where, prepared in requests),
            return_exceptions=True,
        )

    outcomes = run_in_own_loop(submit_all)
    stats = group_committer(app).stats
    assert (stats.groups, stats.largest) == (1, len(requests)), "all were queued before the writer ran"
    assert isinstance(outcomes[6], Conflict) and "already stored with different content" in str(outcomes[6])
    assert isinstance(outcomes[7], NotFound)
    assert (outcomes[8].accepted, outcomes[8].duplicates) == (0, 1)
    assert [result.accepted for result in outcomes[:6]] == [1] * 6 and outcomes[9].accepted == 6
    # Every acknowledged event once, numbered in the order the requests arrived; nothing from the failures.
    assert _rows(database, trace) == [(event["event_id"], seq) for seq, event in enumerate(events, 1)]
    assert _rows(database, bobs_trace) == []
    with database.scope(read_only=True) as session:
        assert session.get(Trace, str(trace)).event_count == 12  # type: ignore[union-attr]


def test_creates_in_one_group_keep_their_semantics(app, database, settings) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _principal(database, "alice"), _principal(database, "bob")
    earlier = _new_trace(database, settings, alice)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    environment = {"python_version": "3.11.9", "packages": ["pytest==8.3.3"]}
    body = seed(events=[], developer_id="alice", trace_id=first, environment=environment)
    plain = seed(events=[], developer_id="alice", trace_id=second)
    step = reasoning("2026-11-26T10:00:00+00:00")

    async def submit_all() -> list[Any]:
        # An append to a trace created in the same group is written after the group's creates.
        append = _append(app, settings, alice, uuid.UUID(second), _prepared(settings, step))
        return await asyncio.gather(
            append,
            _create(app, settings, alice, body),  # new, with an environment
            _create(app, settings, alice, plain),  # new, without one (SQL NULL)
            _create(app, settings, alice, body),  # a retry of the first in the same group: a no-op
            _create(app, settings, alice, {**body, "bug_description": "other"}),  # 409: other content
            _create(app, settings, bob, {**body, "developer_id": "bob"}),  # 404: alice's trace id
            _create(app, settings, alice, seed(events=[], developer_id="alice", trace_id=str(earlier))),
            return_exceptions=True,
        )

    outcomes = run_in_own_loop(submit_all)
    stats = group_committer(app).stats
    assert (stats.groups, stats.largest) == (1, 7), "all were queued before the writer ran"
    assert (outcomes[0].accepted, outcomes[0].event_count) == (1, 1)
    assert [outcome.created for outcome in outcomes[1:4]] == [True, True, False]
    assert isinstance(outcomes[4], Conflict) and "different content" in str(outcomes[4])
    assert isinstance(outcomes[5], NotFound)
    assert (outcomes[6].created, outcomes[6].trace_id) == (False, earlier)
    with database.scope(read_only=True) as session:
        stored = {
            t.trace_id: t for t in session.scalars(select(Trace).where(Trace.trace_id.in_([first, second])))
        }
        no_environment = set(session.scalars(select(Trace.trace_id).where(Trace.environment.is_(None))))
    assert stored[first].environment["packages"] == ["pytest==8.3.3"]
    assert (stored[first].developer_id, stored[first].status, stored[first].event_count) == (
        "alice",
        "pending",
        0,
    )
    assert stored[second].event_count == 1 and stored[second].created_at is not None
    assert second in no_environment and first not in no_environment


def test_a_batch_the_database_refuses_is_written_one_request_at_a_time(app, database, settings) -> None:  # type: ignore[no-untyped-def]
    alice = _principal(database, "alice")
    existing = _new_trace(database, settings, alice)

    def insert_trace(session: Session, trace_id: str) -> str:
        session.add(
            Trace(
                trace_id=trace_id, developer_id="alice", repo_url="r", bug_description="d", content_hash="h"
            )
        )
        session.flush()
        return trace_id

    def insert_all(session: Session, trace_ids: list[str]) -> list[Any]:
        return [insert_trace(session, trace_id) for trace_id in trace_ids]  # one taken id: IntegrityError

    fresh = [str(uuid.uuid4()) for _ in range(4)]
    ids = [*fresh[:2], str(existing), *fresh[2:]]

    async def submit_all() -> list[Any]:
        committer = group_committer(app)
        return await asyncio.gather(
            *(
                committer.submit(
                    lambda session, t=trace_id: insert_trace(session, t),
                    order_key=trace_id,
                    batch=Batch("test.insert", insert_all, trace_id),
                )
                for trace_id in ids
            ),
            return_exceptions=True,
        )

    outcomes = run_in_own_loop(submit_all)
    assert outcomes[2].__class__.__name__ == "IntegrityError"
    assert [outcomes[i] for i in (0, 1, 3, 4)] == fresh
    with database.scope(read_only=True) as session:
        stored = set(session.scalars(select(Trace.trace_id).where(Trace.trace_id.in_(fresh))))
    assert stored == set(fresh)


def test_concurrent_http_appends_share_groups_and_keep_their_semantics(app, database, settings, keys) -> None:  # type: ignore[no-untyped-def]
    clients, per_client = 24, 6
    with live_app_server(app) as url:
        headers = keys.alice
        traces = [
            httpx.post(
                f"{url}/api/traces", json=seed(events=[], developer_id="alice"), headers=headers
            ).json()["trace_id"]
            for _ in range(clients)
        ]
        sent: dict[str, list[str]] = {trace_id: [] for trace_id in traces}
        statuses: list[int] = []
        conflict_answers: list[int] = []
        start = threading.Barrier(clients)

        def client(trace_id: str, index: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                start.wait()
                for step in range(per_client):
                    event = reasoning(f"2026-11-26T10:{index:02d}:{step:02d}+00:00", text=f"{index}.{step}")
                    answer = http.post(f"/api/traces/{trace_id}/events", json=event)
                    statuses.append(answer.status_code)
                    sent[trace_id].append(event["event_id"])
                    if step == 2:  # resend the same id with other content: 409, alone
                        clash = {**event, "details": {"text": "changed", "reasoning_type": "plan"}}
                        conflict_answers.append(
                            http.post(f"/api/traces/{trace_id}/events", json=clash).status_code
                        )
                    if step == 3:  # an identical retry: 200, a duplicate
                        retry = http.post(f"/api/traces/{trace_id}/events", json=event)
                        assert retry.status_code == 200 and retry.json()["duplicates"] == 1

        threads = [threading.Thread(target=client, args=(t, i)) for i, t in enumerate(traces)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert statuses == [200] * clients * per_client
    assert conflict_answers == [409] * clients
    stats = group_committer(app).stats
    assert stats.largest > 1 and stats.groups < stats.requests, "concurrent appends never shared a group"
    for trace_id, event_ids in sent.items():  # each client's events stored once, in the order it sent them
        assert [event_id for event_id, _ in _rows(database, uuid.UUID(trace_id))] == event_ids
    with database.scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == clients * per_client


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"db_pool_size": 10})
