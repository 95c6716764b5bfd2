"""Pure review rules: the overlap quota, the decision of disagreeing reviews, the blind QA document, the
review payload schema."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from bugtrail.qa.judge import CRITERIA
from bugtrail.reviews.overlap import required_reviews
from bugtrail.reviews.schemas import ReviewCreate
from bugtrail.reviews.service import decision_of
from bugtrail.reviews.visibility import blind_document


@pytest.mark.parametrize("share", [0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0])
def test_overlap_quota_is_exact_after_every_assignment(share: float) -> None:
    doubles = 0
    for assigned in range(200):
        doubles += required_reviews(assigned, doubles, share) == 2
        assert doubles == math.floor(share * (assigned + 1) + 1e-9)


def test_twenty_traces_at_a_fifth_give_four_doubles() -> None:
    doubles = 0
    for assigned in range(20):
        doubles += required_reviews(assigned, doubles, 0.2) == 2
    assert doubles == 4


def test_the_most_severe_current_decision_wins() -> None:
    def reviews(*decisions: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(decision=d) for d in decisions]

    assert decision_of([]) is None
    assert decision_of(reviews("accept", "accept")) == "accept"
    assert decision_of(reviews("accept", "needs_changes")) == "needs_changes"
    assert decision_of(reviews("needs_changes", "reject", "accept")) == "reject"


def test_blind_document_keeps_the_verdict_and_drops_the_judge() -> None:
    document = {
        "outcome": "completed",
        "tests_passed": True,
        "fail_to_pass": ["t"],
        "reasoning_score": 4.5,
        "judge_comments": "good",
        "judge": {"criteria": {}},
        "previous_judges": [{"reasoning_score": 2}],
        "rejudged_at": "2026-01-01",
        "judge_calibrated_score": 3.9,
    }
    assert blind_document(document) == {"outcome": "completed", "tests_passed": True, "fail_to_pass": ["t"]}


def _payload(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "criteria": {name: 3 for name in CRITERIA},
        "overall": 3,
        "decision": "accept",
        "reason": "fine",
    }
    payload.update(overrides)
    return payload


def test_review_payload_accepts_the_rubric_and_names_bad_fields() -> None:
    review = ReviewCreate.model_validate(_payload())
    assert review.criteria_scores() == {name: 3 for name in CRITERIA} and review.overall == 3.0
    bad = {
        ("criteria", "consistency"): _payload(criteria={**{n: 3 for n in CRITERIA}, "consistency": "3"}),
        ("overall",): _payload(overall=float("nan")),
        ("event_marks", 0, "event_id"): _payload(event_marks=[{"event_id": "not-a-uuid", "label": "x"}]),
        ("event_marks", 0, "label"): _payload(
            event_marks=[{"event_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "label": "a\nb"}]
        ),
        ("reason",): _payload(reason="x" * 4001),
    }
    for location, payload in bad.items():
        with pytest.raises(ValidationError) as raised:
            ReviewCreate.model_validate(payload)
        assert location in [tuple(error["loc"]) for error in raised.value.errors()], location
