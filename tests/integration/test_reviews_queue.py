"""The review queue on SQLite and PostgreSQL: order, leases, overlap, and reviewers taking at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from bugtrail.db.models import ReviewLease, Trace, utcnow
from tests.support.reviews import review_body, reviewer_keys, seed_reviewable
from tests.support.seed import add_trace
from tests.support.server import live_app_server


def _take(client, headers) -> dict:
    response = client.get("/api/reviews/queue", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_queue_order_renewal_and_release(client, keys, settings, database):
    settings.review_overlap = 0.0
    with database.scope() as session:
        plain_old = add_trace(session, index=0, resolved=True, reasoning_score=4.0)
        disagreement = add_trace(session, index=1, resolved=True, reasoning_score=1.5)
        plain_new = add_trace(session, index=2, resolved=False, reasoning_score=2.0)
        add_trace(session, index=3, developer_id="reviewer")  # the reviewer's own: never handed to them
        add_trace(session, index=4, status="running", qa=None)  # QA not finished
    first = _take(client, keys.reviewer)
    assert first["trace_id"] == disagreement and first["priority"] == "judge_verdict_disagreement"
    assert first["reviews_required"] == 1 and first["reviews_done"] == 0 and first["waiting"] == 2
    again = client.post("/api/reviews/queue", headers=keys.reviewer).json()
    assert again["trace_id"] == disagreement and again["renewed"]
    # Skipping gives it back; the next take hands out the same best trace again.
    assert client.delete(f"/api/reviews/queue/{disagreement}", headers=keys.reviewer).status_code == 204
    assert client.delete(f"/api/reviews/queue/{disagreement}", headers=keys.reviewer).status_code == 404
    assert _take(client, keys.reviewer)["trace_id"] == disagreement
    client.post(f"/api/traces/{disagreement}/reviews", json=review_body(), headers=keys.reviewer)
    second = _take(client, keys.reviewer)
    assert (second["trace_id"], second["priority"]) == (plain_old, "oldest")
    client.post(f"/api/traces/{plain_old}/reviews", json=review_body(), headers=keys.reviewer)
    assert _take(client, keys.reviewer)["trace_id"] == plain_new
    client.post(f"/api/traces/{plain_new}/reviews", json=review_body(), headers=keys.reviewer)
    assert _take(client, keys.reviewer) == {**_take(client, keys.reviewer), "trace_id": None, "waiting": 0}
    # Every single-review trace is done: the admin finds nothing left but the reviewer's own trace.
    own = _take(client, keys.admin)
    with database.scope(read_only=True) as session:
        assert session.get(Trace, own["trace_id"]).developer_id == "reviewer"


def test_single_review_trace_is_never_shared_and_leases_expire(client, keys, settings, database):
    settings.review_overlap = 0.0
    only, other = seed_reviewable(database, 2)
    carol = reviewer_keys(database, ["carol"])["carol"]
    assert _take(client, keys.reviewer)["trace_id"] == only
    assert _take(client, carol)["trace_id"] == other  # `only` is leased to the reviewer
    client.post(f"/api/traces/{other}/reviews", json=review_body(), headers=carol)
    assert _take(client, carol)["trace_id"] is None
    # The reviewer's lease runs out: the trace goes to carol.
    with database.scope() as session:
        session.execute(update(ReviewLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _take(client, carol)["trace_id"] == only
    # Submitting releases the lease and fills the single slot: nobody else gets it.
    assert client.post(f"/api/traces/{only}/reviews", json=review_body(), headers=carol).status_code == 201
    with database.scope(read_only=True) as session:
        assert (
            session.scalars(select(ReviewLease.trace_id).where(ReviewLease.reviewer_id == "carol")).all()
            == []
        )
    assert _take(client, keys.reviewer)["trace_id"] is None


def test_overlap_share_and_double_reviews(client, keys, settings, database):
    settings.review_overlap = 0.2
    traces = seed_reviewable(database, 10)
    names = ["r1", "r2", "r3"]
    headers = reviewer_keys(database, names)
    reviews: dict[str, list[str]] = {}
    for _ in range(30):
        progressed = False
        for name in names:
            taken = _take(client, headers[name])
            if taken["trace_id"] is None:
                continue
            progressed = True
            response = client.post(
                f"/api/traces/{taken['trace_id']}/reviews", json=review_body(), headers=headers[name]
            )
            assert response.status_code == 201
            reviews.setdefault(taken["trace_id"], []).append(name)
        if not progressed:
            break
    with database.scope(read_only=True) as session:
        required = dict(session.execute(select(Trace.trace_id, Trace.reviews_required)).all())
    assert sorted(required) == sorted(traces)
    assert sum(1 for n in required.values() if n == 2) == 2  # floor(0.2 x 10)
    for trace_id, reviewers in reviews.items():
        assert len(reviewers) == required[trace_id] and len(set(reviewers)) == len(reviewers)


def test_reviewers_taking_at_once_never_share_a_single_review_trace(app, settings, database):
    settings.review_overlap = 0.0
    count = 6
    seed_reviewable(database, count)
    names = [f"r{i}" for i in range(count + 2)]
    headers = reviewer_keys(database, names)
    taken: dict[str, str | None] = {}
    errors: list[str] = []
    with live_app_server(app) as url:
        barrier = threading.Barrier(len(names))

        def work(name: str) -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                barrier.wait()
                response = http.post("/api/reviews/queue", headers=headers[name])
                if response.status_code != 200:
                    errors.append(response.text)
                    return
                taken[name] = response.json()["trace_id"]

        threads = [threading.Thread(target=work, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors
    handed = [trace for trace in taken.values() if trace is not None]
    assert len(handed) == count and len(set(handed)) == count  # all traces out, none twice
    assert sum(1 for trace in taken.values() if trace is None) == 2
    with database.scope(read_only=True) as session:
        leases = session.execute(select(ReviewLease.trace_id, ReviewLease.reviewer_id)).all()
    assert len(leases) == count and len({lease.trace_id for lease in leases}) == count


def test_a_double_review_trace_goes_to_two_reviewers_at_once(client, settings, database):
    settings.review_overlap = 1.0  # every trace double-reviewed
    first, second = seed_reviewable(database, 2)
    headers = reviewer_keys(database, ["r1", "r2", "r3"])
    one = _take(client, headers["r1"])
    assert (one["trace_id"], one["reviews_required"]) == (first, 2)
    assert _take(client, headers["r2"])["trace_id"] == first  # its second slot
    assert _take(client, headers["r3"])["trace_id"] == second  # both slots of `first` are leased
    client.post(f"/api/traces/{first}/reviews", json=review_body(), headers=headers["r1"])
    client.post(f"/api/traces/{first}/reviews", json=review_body(2), headers=headers["r2"])
    assert _take(client, headers["r1"])["trace_id"] == second
    assert _take(client, headers["r2"])["trace_id"] is None  # `second`: r3 and r1 hold both slots
