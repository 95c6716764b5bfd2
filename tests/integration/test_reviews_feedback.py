"""Feedback channels around a review: the review.submitted webhook and the dashboard review form."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bugtrail.db.models import Job, Review, WebhookDelivery
from bugtrail.qa.judge import CRITERIA
from bugtrail.webhooks import repository as hooks
from tests.support.reviews import event_ids, review_body, seed_reviewable
from tests.support.seed import add_trace


def test_review_submitted_webhook(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    with database.scope() as session:
        hooks.add_webhook(session, "https://hooks.example.com/r", "s" * 20, ["review.submitted"], "t")
    # The event name is one the webhook API accepts (only the bogus one is refused).
    refused = client.post(
        "/api/webhooks",
        json={"url": "https://hooks.example.com/all", "events": ["review.submitted", "bogus"]},
        headers=keys.admin,
    )
    assert refused.status_code == 422 and refused.json()["detail"]["unknown"] == ["bogus"]
    assert "review.submitted" in refused.json()["detail"]["allowed"]
    review = client.post(
        f"/api/traces/{trace_id}/reviews", json=review_body(3, "reject"), headers=keys.reviewer
    ).json()
    with database.scope(read_only=True) as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event == "review.submitted")
        ).first()
        jobs = session.scalar(select(func.count()).select_from(Job).where(Job.kind == "webhook.deliver"))
    assert delivery is not None and jobs >= 1
    assert delivery.payload["review_id"] == review["id"] and delivery.payload["trace_id"] == trace_id
    assert delivery.payload["decision"] == "reject" and delivery.payload["review_decision"] == "reject"
    assert delivery.payload["developer_id"] == "alice" and delivery.payload["reviews_done"] == 1


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _dashboard_login(client, key: str) -> str:
    """Logs in; returns the form token the dashboard's pages carry afterwards."""
    token = _csrf(client.get("/dashboard/login").text)
    client.post("/dashboard/login", data={"api_key": key, "csrf_token": token}, follow_redirects=False)
    return _csrf(client.get("/dashboard/queue").text)


def _form(token: str, **fields: str) -> dict[str, str]:
    form = {f"criteria.{name}": "4" for name in CRITERIA}
    form.update(overall="4.0", decision="accept", reason="solid", feedback="", csrf_token=token)
    form.update(fields)
    return form


def test_dashboard_review_form(client, keys, database):
    (trace_id,) = seed_reviewable(database, 1)
    with database.scope() as session:
        own = add_trace(session, index=3, developer_id="reviewer")
        running = add_trace(session, index=4, status="running", qa=None)
    token = _dashboard_login(client, keys.raw["reviewer"])
    page = client.get(f"/dashboard/review/{trace_id}")
    assert (
        page.status_code == 200 and 'id="review-form"' in page.text and "hidden until you submit" in page.text
    )
    assert client.get(f"/dashboard/review/{own}").status_code == 403
    assert client.get(f"/dashboard/review/{running}").status_code == 409
    url = f"/dashboard/review/{trace_id}"
    forged = client.post(url, data=_form("forged"), follow_redirects=False)
    assert forged.status_code == 403
    bad = _form(token, **{"criteria.consistency": "9", "overall": "x"})
    del bad["criteria.hypothesis_quality"]
    refused = client.post(url, data=bad, follow_redirects=False)
    assert refused.status_code == 422
    for field in ("criteria.consistency", "criteria.hypothesis_quality", "overall"):
        assert f"<code>{field}</code>" in refused.text
    assert 'value="solid"' in refused.text or ">solid<" in refused.text  # what was typed is kept
    marks = {
        f"mark.{event_ids(database, trace_id)[0]}": "wrong",
        f"mark_comment.{event_ids(database, trace_id)[0]}": "no",
    }
    done = client.post(url, data=_form(token, **marks), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/dashboard/queue?submitted={trace_id}"
    with database.scope(read_only=True) as session:
        (review,) = session.scalars(select(Review)).all()
    assert review.event_marks == [
        {"event_id": event_ids(database, trace_id)[0], "label": "wrong", "comment": "no"}
    ]
    queue = client.get(done.headers["location"]).text
    assert "Review submitted" in queue and 'id="queue-waiting">0<' in queue
    nothing = client.post("/dashboard/queue/next", data={"csrf_token": token}, follow_redirects=False)
    assert nothing.status_code == 200 and "Nothing is waiting" in nothing.text
    trace_page = client.get(f"/dashboard/traces/{trace_id}").text
    assert 'id="review-list"' in trace_page and "solid" in trace_page
