"""The blind rule: before submitting their own review, a reviewer sees no other review and no judge score
of the trace, through any endpoint; afterwards they do. Admins are never blind."""

from __future__ import annotations

from tests.support.reviews import review_body, reviewer_keys, seed_reviewable
from tests.support.seed import add_trace, qa_document

JUDGE_TEXT = "clear hypothesis, verified by a test run"  # seed.qa_document's judge_comments


def _sees_judge(client, headers, trace_id: str) -> dict[str, bool]:
    trace = client.get(f"/api/traces/{trace_id}", headers=headers)
    assert trace.status_code == 200
    body = trace.json()
    listed = {item["trace_id"]: item for item in client.get("/api/traces", headers=headers).json()["items"]}
    history = client.get(f"/api/traces/{trace_id}/qa/results", headers=headers).json()
    reviews = client.get(f"/api/traces/{trace_id}/reviews", headers=headers).json()
    all_reviews = client.get("/api/reviews", headers=headers).json()["items"]
    return {
        "score": body["reasoning_score"] is not None,
        "qa_score": body["qa_results"]["reasoning_score"] is not None,
        "judge": body["qa_results"].get("judge") is not None or JUDGE_TEXT in trace.text,
        "summary": body["review_decision"] is not None or body["human_score"] is not None,
        "trace_reviews": bool(body["reviews"]),
        "list_score": listed[trace_id]["reasoning_score"] is not None,
        "list_summary": listed[trace_id]["review_decision"] is not None,
        "history": any(
            item["reasoning_score"] is not None or JUDGE_TEXT in str(item["result"]) for item in history
        ),
        "reviews": bool(reviews),
        "review_list": any(r["trace_id"] == trace_id for r in all_reviews),
    }


def test_reviewer_is_blind_until_they_submit(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    carol = reviewer_keys(database, ["carol"])["carol"]
    # The test verdict stays visible to everyone who may read the trace.
    before = client.get(f"/api/traces/{trace_id}", headers=carol).json()
    assert before["qa_results"]["tests_passed"] is True and before["qa_results"]["fail_to_pass"]
    assert before["reviews"] is None  # withheld, not "no reviews"
    assert not any(_sees_judge(client, carol, trace_id).values())

    assert (
        client.post(
            f"/api/traces/{trace_id}/reviews", json=review_body(2, "reject"), headers=keys.reviewer
        ).status_code
        == 201
    )
    # Carol still sees neither the judge nor the first review.
    assert not any(_sees_judge(client, carol, trace_id).values())
    # The first reviewer, having submitted, sees everything; the admin always does.
    assert all(_sees_judge(client, keys.reviewer, trace_id).values())
    assert all(_sees_judge(client, keys.admin, trace_id).values())

    assert (
        client.post(f"/api/traces/{trace_id}/reviews", json=review_body(4), headers=carol).status_code == 201
    )
    assert all(_sees_judge(client, carol, trace_id).values())
    seen = client.get(f"/api/traces/{trace_id}/reviews", headers=carol).json()
    assert [r["reviewer_id"] for r in seen] == ["reviewer", "carol"]


def test_blind_dashboard_pages(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1, reasoning_score=3.7)
    # A QA run that judged but ran no tests: the overview's "recent failures" would quote the judge.
    skipped = {**qa_document(None, None, 3.7), "outcome": "skipped", "failed_after": []}
    with database.scope() as session:
        add_trace(session, index=1, tests_passed=None, resolved=None, reasoning_score=3.7, qa=skipped)
    from tests.support.reviews import reviewer_keys as more_keys

    carol_key = more_keys(database, ["carol"])["carol"]["Authorization"].split()[1]
    login = client.get("/dashboard/login")
    token = login.cookies.get("bugtrail_csrf")
    client.post("/dashboard/login", data={"api_key": carol_key, "csrf_token": token}, follow_redirects=False)
    page = client.get(f"/dashboard/traces/{trace_id}").text
    overview = client.get("/dashboard").text
    assert JUDGE_TEXT not in page and "3.7" not in page and "hidden until you submit" in page
    assert "3.7" not in overview and JUDGE_TEXT not in overview and "hidden until you review" in overview
    client.post(
        f"/api/traces/{trace_id}/reviews",
        json=review_body(3),
        headers={"Authorization": f"Bearer {carol_key}"},
    )
    page = client.get(f"/dashboard/traces/{trace_id}").text
    assert JUDGE_TEXT in page and "3.7" in page and "3.7" in client.get("/dashboard").text
    # The other (skipped) trace is still unreviewed by carol: its judge comment stays hidden.
    assert "hidden until you review" in client.get("/dashboard").text
