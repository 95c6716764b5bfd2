"""Reviews through the real app on SQLite and PostgreSQL: submit, supersede, the summary, bad input."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from bugtrail.db.models import Review, Trace
from bugtrail.qa.judge import CRITERIA, RUBRIC_VERSION
from tests.support.reviews import event_ids, review_body, reviewer_keys, seed_reviewable
from tests.support.seed import add_trace


def _review_count(database) -> int:
    with database.scope(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(Review)) or 0)


def _trace(database, trace_id: str) -> Trace:
    with database.scope(read_only=True) as session:
        trace = session.get(Trace, trace_id)
        assert trace is not None
        return trace


def test_submit_supersede_and_summary(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    events = event_ids(database, trace_id)
    mark = {"event_id": events[0], "label": "wrong", "comment": "the cause is the operator, not the input"}
    first = client.post(
        f"/api/traces/{trace_id}/reviews",
        json=review_body(2, "needs_changes", event_marks=[mark]),
        headers=keys.reviewer,
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["criteria"] == {name: 2 for name in CRITERIA} and body["overall"] == 2.0
    assert body["rubric_version"] == RUBRIC_VERSION and body["supersedes_id"] is None and body["current"]
    assert body["event_marks"][0]["event_id"] == events[0] and body["reviewer_id"] == "reviewer"
    summary = _trace(database, trace_id)
    assert (summary.review_decision, summary.human_score, summary.reviews_required) == (
        "needs_changes",
        2.0,
        1,
    )

    second = client.post(f"/api/traces/{trace_id}/reviews", json=review_body(5), headers=keys.reviewer).json()
    assert second["supersedes_id"] == body["id"]
    listed = client.get(f"/api/traces/{trace_id}/reviews", headers=keys.admin).json()
    assert [(r["id"], r["current"]) for r in listed] == [(body["id"], False), (second["id"], True)]
    summary = _trace(database, trace_id)
    assert (summary.review_decision, summary.human_score) == ("accept", 5.0)

    # A second reviewer rejects: the most severe current decision is the trace's, the score the mean.
    other = reviewer_keys(database, ["carol"])["carol"]
    assert (
        client.post(
            f"/api/traces/{trace_id}/reviews", json=review_body(3, "reject"), headers=other
        ).status_code
        == 201
    )
    summary = _trace(database, trace_id)
    assert (summary.review_decision, summary.human_score) == ("reject", 4.0)
    got = client.get(f"/api/traces/{trace_id}", headers=keys.admin).json()
    assert got["review_decision"] == "reject" and got["human_score"] == 4.0 and len(got["reviews"]) == 3


def test_bad_scores_name_the_field_and_store_nothing(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    url = f"/api/traces/{trace_id}/reviews"
    cases = {
        "criteria.consistency": review_body(criteria={**review_body()["criteria"], "consistency": 6}),
        "criteria.hypothesis_quality": review_body(
            criteria={**review_body()["criteria"], "hypothesis_quality": 0}
        ),
        "criteria.change_rationale": review_body(
            criteria={**review_body()["criteria"], "change_rationale": 3.5}
        ),
        "criteria.learning_from_failures": review_body(
            criteria={k: v for k, v in review_body()["criteria"].items() if k != "learning_from_failures"}
        ),
        "criteria.style": review_body(criteria={**review_body()["criteria"], "style": 3}),
        "criteria.alternatives_considered": review_body(
            criteria={**review_body()["criteria"], "alternatives_considered": True}
        ),
        "overall": review_body(overall=5.5),
        "decision": review_body(decision="maybe"),
        "reason": review_body(reason="   "),
        "feedback": review_body(feedback="x" * 20_001),
        "event_marks[0].label": review_body(event_marks=[{"event_id": str(uuid.uuid4()), "label": ""}]),
    }
    for field, payload in cases.items():
        response = client.post(url, json=payload, headers=keys.reviewer)
        assert response.status_code == 422, (field, response.text)
        assert field in [problem["field"] for problem in response.json()["detail"]], (field, response.json())
        assert field in response.json()["error"]
    missing = review_body()
    del missing["criteria"]
    response = client.post(url, json=missing, headers=keys.reviewer)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "criteria"
    nul = client.post(url, json=review_body(reason="ok\x00then"), headers=keys.reviewer)
    assert nul.status_code == 422 and nul.json()["detail"][0]["field"] == "reason"
    # An event that is not in this trace: named by its place in the list.
    foreign = seed_reviewable(database, 1, developer_id="bob")[0]
    marks = [
        {"event_id": event_ids(database, trace_id)[1], "label": "unrelated"},
        {"event_id": event_ids(database, foreign)[0], "label": "wrong"},
    ]
    response = client.post(url, json=review_body(event_marks=marks), headers=keys.reviewer)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "event_marks[1].event_id"
    assert _review_count(database) == 0 and _trace(database, trace_id).review_decision is None


def test_who_may_review(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    url = f"/api/traces/{trace_id}/reviews"
    # A developer key on the review routes: 403, whatever the body.
    assert client.post(url, json=review_body(), headers=keys.alice).status_code == 403
    assert client.post(url, json={"bogus": 1}, headers=keys.bob).status_code == 403
    assert client.get("/api/reviews", headers=keys.alice).status_code == 403
    assert client.get("/api/reviews/queue", headers=keys.alice).status_code == 403
    assert client.post("/api/reviews/queue", headers=keys.bob).status_code == 403
    assert client.get("/api/reviews/queue").status_code == 401
    # Nobody reviews their own trace, admins included.
    with database.scope() as session:
        own = add_trace(session, index=5, developer_id="reviewer")
        admins = add_trace(session, index=6, developer_id="admin")
    response = client.post(f"/api/traces/{own}/reviews", json=review_body(), headers=keys.reviewer)
    assert response.status_code == 403 and "own trace" in response.json()["error"]
    assert (
        client.post(f"/api/traces/{admins}/reviews", json=review_body(), headers=keys.admin).status_code
        == 403
    )
    # QA not finished: 409, for every unfinished status.
    with database.scope() as session:
        unfinished = [
            add_trace(session, index=7 + i, status=s, qa=None)
            for i, s in enumerate(("pending", "queued", "running"))
        ]
    for trace in unfinished:
        response = client.post(f"/api/traces/{trace}/reviews", json=review_body(), headers=keys.reviewer)
        assert response.status_code == 409 and response.json()["detail"]["status"] in (
            "pending",
            "queued",
            "running",
        )
    assert (
        client.post(
            f"/api/traces/{uuid.uuid4()}/reviews", json=review_body(), headers=keys.reviewer
        ).status_code
        == 404
    )
    assert client.post(url, json=review_body(), headers=keys.admin).status_code == 201
    assert _review_count(database) == 1


def test_developer_sees_feedback_on_own_trace_only(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    client.post(
        f"/api/traces/{trace_id}/reviews", json=review_body(2, "needs_changes"), headers=keys.reviewer
    )
    mine = client.get(f"/api/traces/{trace_id}/reviews", headers=keys.alice)
    assert mine.status_code == 200
    (review,) = mine.json()
    assert review["reviewer_id"] is None and review["reviewer_label"] == "reviewer 1"
    assert review["decision"] == "needs_changes" and review["feedback"].startswith("Say which")
    trace = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert trace["review_decision"] == "needs_changes" and trace["reviews"][0]["reviewer_id"] is None
    listed = client.get("/api/traces", headers=keys.alice).json()["items"]
    assert listed[0]["review_decision"] == "needs_changes" and listed[0]["human_score"] == 2.0
    # Another developer's trace: 403, the same answer as for a trace that does not exist (no oracle).
    other = client.get(f"/api/traces/{trace_id}/reviews", headers=keys.bob)
    missing = client.get(f"/api/traces/{uuid.uuid4()}/reviews", headers=keys.bob)
    assert other.status_code == missing.status_code == 403 and other.json() == missing.json()
    assert client.get(f"/api/traces/{uuid.uuid4()}/reviews", headers=keys.reviewer).status_code == 404


def test_list_reviews_filters_and_pages(client, keys, database):
    traces = seed_reviewable(database, 3)
    carol = reviewer_keys(database, ["carol"])["carol"]
    for i, trace_id in enumerate(traces):
        client.post(
            f"/api/traces/{trace_id}/reviews",
            json=review_body(2 + i, "accept" if i else "reject"),
            headers=keys.reviewer,
        )
    client.post(f"/api/traces/{traces[0]}/reviews", json=review_body(5), headers=carol)
    page = client.get("/api/reviews", params={"limit": 2}, headers=keys.admin).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        "/api/reviews", params={"limit": 2, "cursor": page["next_cursor"]}, headers=keys.admin
    ).json()
    ids = [r["id"] for r in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4 and rest["next_cursor"] is None
    rejects = client.get("/api/reviews", params={"decision": "reject"}, headers=keys.admin).json()["items"]
    assert [r["trace_id"] for r in rejects] == [traces[0]]
    by_carol = client.get("/api/reviews", params={"reviewer": "carol"}, headers=keys.admin).json()["items"]
    assert [r["reviewer_label"] for r in by_carol] == ["reviewer 2"]
    one = client.get("/api/reviews", params={"trace_id": traces[2]}, headers=keys.admin).json()["items"]
    assert [r["overall"] for r in one] == [4.0]
    assert client.get("/api/reviews", params={"decision": "bogus"}, headers=keys.admin).status_code == 422
    assert client.get("/api/reviews", params={"cursor": "nope"}, headers=keys.admin).status_code == 400
    future = client.get("/api/reviews", params={"since": "2100-01-01T00:00:00Z"}, headers=keys.admin).json()
    assert future["items"] == []
