"""Done-when: two reviewers work through a queue of 20 QA-finished traces in Chromium, 20% double-reviewed
(BUGTRAIL_REVIEW_OVERLAP=0.2), scoring with the keyboard on the review page."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from sqlalchemy import select

from bugtrail.db.models import Review, Trace
from bugtrail.qa.judge import CRITERIA
from tests.support.reviews import reviewer_keys, seed_reviewable

pytestmark = pytest.mark.browser

DECISION_KEYS = {"a": "accept", "r": "reject", "n": "needs_changes"}


def _login(context, base: str, key: str, errors: list[str]):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(f"{base}/dashboard/login")
    page.fill("#api_key", key)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/dashboard")
    return page


def _take(page, base: str) -> str | None:  # type: ignore[no-untyped-def]
    if "/dashboard/queue" not in page.url:  # after a submit the browser is on the queue page already
        page.goto(f"{base}/dashboard/queue")
    page.click("#next-trace")
    page.wait_for_load_state()
    match = re.search(r"/dashboard/review/([0-9a-f-]{36})$", page.url)
    if match is None:
        assert "Nothing is waiting" in page.inner_text("#queue-message")
        return None
    return match.group(1)


def _review_with_keyboard(page, scores: list[int], decision_key: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("body[data-review-ready='1']")
    # Blind: no judge score and no other review while this reviewer has not submitted.
    assert page.is_visible("#judge-hidden") and page.locator("#review-list").count() == 0
    focused = page.evaluate("document.activeElement.dataset.criterion")
    assert focused == CRITERIA[0]  # the first criterion has the focus: number keys score it
    for score in scores:
        page.keyboard.press(str(score))
    # After the last criterion the decision has the focus; overall followed the mean of the scores.
    assert page.evaluate("document.activeElement.name") == "decision"
    assert page.input_value("#overall") == f"{round(sum(scores) / len(scores), 1):.1f}"
    page.keyboard.press('"')  # other keys do nothing (and break nothing)
    page.keyboard.press(decision_key)
    assert page.evaluate("document.activeElement.id") == "reason"  # then the reason is typed
    page.keyboard.insert_text("scored from the timeline")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r".*/dashboard/queue\?submitted="))


def test_two_reviewers_work_through_a_queue_of_20(chromium, live_server, settings, database):
    settings.review_overlap = 0.2
    traces = seed_reviewable(database, 20)
    headers = reviewer_keys(database, ["rita", "ravi"])
    contexts = {name: chromium.new_context(viewport={"width": 1280, "height": 1000}) for name in headers}
    errors: list[str] = []
    pages = {
        name: _login(contexts[name], live_server, header["Authorization"].split()[1], errors)
        for name, header in headers.items()
    }
    expected: dict[tuple[str, str], tuple[list[int], str]] = {}
    done = {name: False for name in pages}
    turn = 0
    while not all(done.values()):
        # Both take before either submits: a single-review trace is never handed to both.
        taken = {name: None if done[name] else _take(page, live_server) for name, page in pages.items()}
        held = [trace for trace in taken.values() if trace is not None]
        with database.scope(read_only=True) as session:
            singles = {t for t in held if session.get(Trace, t).reviews_required == 1}
        assert len(held) == len(set(held)) or not singles & {t for t in held if held.count(t) > 1}
        for name, trace_id in taken.items():
            if trace_id is None:
                done[name] = True
                continue
            scores = [1 + (turn + i + len(name)) % 5 for i in range(len(CRITERIA))]
            key = "arn"[turn % 3]
            _review_with_keyboard(pages[name], scores, key)
            expected[(trace_id, name)] = (scores, DECISION_KEYS[key])
            turn += 1
        assert turn <= 40, "the queue should run dry after 24 reviews"
    for context in contexts.values():
        context.close()
    assert errors == []

    with database.scope(read_only=True) as session:
        required = dict(session.execute(select(Trace.trace_id, Trace.reviews_required)).all())
        reviews = session.execute(select(Review)).scalars().all()
    by_trace: dict[str, list[str]] = defaultdict(list)
    for review in reviews:
        by_trace[review.trace_id].append(review.reviewer_id)
        scores, decision = expected[(review.trace_id, review.reviewer_id)]
        assert [review.criteria[name] for name in CRITERIA] == scores and review.decision == decision
        assert review.overall == round(sum(scores) / len(scores), 1) and review.supersedes_id is None
    assert sorted(by_trace) == sorted(traces)
    assert sum(1 for n in required.values() if n == 2) == 4  # 20% of 20
    for trace_id, reviewers in by_trace.items():
        assert len(reviewers) == required[trace_id]  # its required number of reviews
        assert len(set(reviewers)) == len(reviewers)  # never the same reviewer twice
    assert len(reviews) == 24
