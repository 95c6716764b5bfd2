"""A seeded set of reviewed, judged traces for the agreement and calibration tests (rows straight into the
tables through tests.support.seed), with the values kept so a test can recompute every figure itself.

The judge is biased on purpose: judge = human + 1 (clipped to 5) with some noise, so calibration has
something to correct. A share of the traces gets a second reviewer; one reviewer revises one review (the
first one is superseded and must not count).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tests.support.seed import CRITERIA_NAMES, add_review, add_trace, judged_document

START = datetime(2026, 10, 5, 9, 0)  # a Monday
REVIEWERS = ("rev-ana", "rev-ben", "rev-cleo")


@dataclass
class SeededReview:
    reviewer: str
    criteria: dict[str, int]
    overall: float
    created_at: datetime


@dataclass
class SeededTrace:
    trace_id: str
    judge_criteria: dict[str, int]
    judge_score: float
    reviews: list[SeededReview] = field(default_factory=list)  # current reviews only


@dataclass
class SeededSet:
    traces: list[SeededTrace]
    superseded_review_id: int

    def multi_reviewed(self) -> list[SeededTrace]:
        return [t for t in self.traces if len(t.reviews) >= 2]


def _clip(value: float) -> int:
    return max(1, min(5, round(value)))


def seed_agreement_set(
    session: Session, traces: int = 20, double_share: float = 0.2, seed: int = 7, weeks: int = 3
) -> SeededSet:
    rng = random.Random(seed)
    seeded: list[SeededTrace] = []
    doubles = max(1, round(traces * double_share))
    superseded_id = 0
    for i in range(traces):
        quality = rng.randint(1, 5)
        human = {name: _clip(quality + rng.choice((-1, 0, 0, 1))) for name in CRITERIA_NAMES}
        human_overall = round(sum(human.values()) / len(human), 1)
        judge_criteria = {name: _clip(v + 1 + rng.choice((-1, 0, 0, 0, 1))) for name, v in human.items()}
        judge_score = round(min(5.0, human_overall + 1.0 + rng.uniform(-0.3, 0.3)), 2)
        judge_score = max(1.0, judge_score)
        created = START + timedelta(days=(i * 7 * weeks) // traces, hours=i % 5)
        trace_id = add_trace(
            session,
            trace_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),  # same set, same held-back split
            index=i,
            developer_id="alice",
            created_at=created - timedelta(days=1),
            reasoning_score=judge_score,
            qa=judged_document(judge_criteria, judge_score),
        )
        trace = SeededTrace(trace_id=trace_id, judge_criteria=judge_criteria, judge_score=judge_score)
        first = REVIEWERS[i % 2]
        trace.reviews.append(SeededReview(first, human, human_overall, created))
        if i < doubles:
            second = REVIEWERS[2] if i % 2 == 0 else REVIEWERS[0]
            other = {name: _clip(v + rng.choice((-1, 0, 0, 0, 1))) for name, v in human.items()}
            other_overall = round(sum(other.values()) / len(other), 1)
            trace.reviews.append(SeededReview(second, other, other_overall, created + timedelta(hours=2)))
        for review in trace.reviews:
            if i == 0 and review.reviewer == first:
                # A first, very different review, superseded by the one kept in `reviews`.
                superseded_id = add_review(
                    session,
                    trace_id,
                    first,
                    dict.fromkeys(CRITERIA_NAMES, 1 if human["consistency"] >= 3 else 5),
                    1.0 if human_overall >= 3 else 5.0,
                    created_at=review.created_at - timedelta(minutes=30),
                    decision="reject",
                )
                add_review(
                    session,
                    trace_id,
                    first,
                    review.criteria,
                    review.overall,
                    created_at=review.created_at,
                    supersedes_id=superseded_id,
                )
                continue
            add_review(
                session,
                trace_id,
                review.reviewer,
                review.criteria,
                review.overall,
                created_at=review.created_at,
            )
        seeded.append(trace)
    return SeededSet(traces=seeded, superseded_review_id=superseded_id)
