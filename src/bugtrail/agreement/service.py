"""The agreement report (rules; SQL in repository.py, maths in statistics.py and
calibration.py). Flushes only: the caller owns the transaction.

Who counts: a trace's current reviews are the latest per reviewer (later reviews supersede earlier ones).
The human reference for a trace is the mean of its current reviews, per criterion and overall. The judge's
score for a trace is the newest QA result's judge record of that (judge, model, rubric_version) with a
score (judge failures carry none and are left out).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bugtrail.agreement import repository
from bugtrail.agreement.calibration import DIMENSIONS, OVERALL
from bugtrail.agreement.repository import CurrentReview, StoredJudge
from bugtrail.agreement.schemas import (
    AgreementQuery,
    AgreementReport,
    BetweenReviewers,
    Figure,
    JudgeFigures,
    JudgeGroup,
    ReviewerPair,
    WeeklyJudge,
    WeekPoint,
)
from bugtrail.agreement.statistics import (
    KAPPA,
    MAE,
    SPEARMAN,
    Estimate,
    alpha_estimate,
    paired_estimate,
)

METHOD = {
    "alpha": "Krippendorff's alpha, ordinal metric (krippendorff), units = traces with 2+ current reviews",
    "kappa": "Cohen's kappa, quadratic weights, on the half-point grid 1.0-5.0 (statsmodels cohens_kappa)",
    "spearman": "Spearman's rho (scipy.stats.spearmanr), judge score vs the reviews' mean",
    "mae": "mean absolute error, judge score vs the reviews' mean, on the 1-5 scale",
    "ci": "scipy.stats.bootstrap, percentile method, traces resampled, fixed seed",
}

GroupKey = tuple[str, str | None, str]
# Bootstrap work per figure (traces x resamples): a report on a large set stays a few seconds and a
# reviewer key cannot ask for minutes of CPU; the resamples used are reported in `method.ci`.
BOOTSTRAP_WORK = 1_000_000
MIN_RESAMPLES = 200


def bootstrap_resamples(asked: int, traces: int) -> int:
    """The resamples to use: as asked, unless the set is so large that they would exceed the budget."""
    if asked <= 0:
        return 0
    return min(asked, max(MIN_RESAMPLES, BOOTSTRAP_WORK // max(1, traces)))


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if 1.0 <= value <= 5.0 else None


def review_scores(review: CurrentReview) -> dict[str, float]:
    scores = {name: _score(review.criteria.get(name)) for name in DIMENSIONS if name != OVERALL}
    scores[OVERALL] = _score(review.overall)
    return {name: value for name, value in scores.items() if value is not None}


def human_reference(reviews: Sequence[CurrentReview]) -> dict[str, dict[str, float]]:
    """trace_id -> dimension -> mean of the current reviews' scores."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for review in reviews:
        for name, value in review_scores(review).items():
            sums[review.trace_id][name].append(value)
    return {
        trace: {name: float(np.mean(values)) for name, values in dims.items()} for trace, dims in sums.items()
    }


def judge_scores(record: dict[str, Any], calibrated: bool = False) -> dict[str, float]:
    source = record.get("calibrated") if calibrated else record
    if not isinstance(source, dict):
        return {}
    scores = {
        name: _score((source.get("criteria") or {}).get(name)) for name in DIMENSIONS if name != OVERALL
    }
    scores[OVERALL] = _score(source.get("reasoning_score"))
    return {name: value for name, value in scores.items() if value is not None}


def group_key(record: dict[str, Any]) -> GroupKey:
    model = record.get("model")
    return (
        str(record.get("judge") or "unknown"),
        None if model is None else str(model),
        str(record.get("rubric_version") or "unknown"),
    )


def newest_judgements(records: Sequence[StoredJudge]) -> dict[GroupKey, dict[str, dict[str, Any]]]:
    """(judge, model, rubric) -> trace_id -> the newest scored record (records come oldest first)."""
    grouped: dict[GroupKey, dict[str, dict[str, Any]]] = defaultdict(dict)
    for stored in records:
        record = stored.record
        if record.get("error") or _score(record.get("reasoning_score")) is None:
            continue
        grouped[group_key(record)][stored.trace_id] = record
    return grouped


def _selected(key: GroupKey, query: AgreementQuery) -> bool:
    judge, model, rubric = key
    return (
        (query.judge is None or judge == query.judge)
        and (query.model is None or model == query.model)
        and (query.rubric_version is None or rubric == query.rubric_version)
    )


@dataclass(frozen=True)
class _Resampling:
    resamples: int
    seed: int
    confidence: float


def _paired(stat: Any, a: list[float], b: list[float], r: _Resampling) -> Figure:
    return Figure.of(paired_estimate(stat, a, b, r.resamples, r.seed, r.confidence))


def _judge_figures(
    judged: dict[str, dict[str, float]], human: dict[str, dict[str, float]], r: _Resampling
) -> dict[str, JudgeFigures]:
    figures: dict[str, JudgeFigures] = {}
    for name in DIMENSIONS:
        traces = sorted(t for t in judged if name in judged[t] and name in human.get(t, {}))
        a = [judged[t][name] for t in traces]
        b = [human[t][name] for t in traces]
        figures[name] = JudgeFigures(
            spearman=_paired(SPEARMAN, a, b, r), kappa=_paired(KAPPA, a, b, r), mae=_paired(MAE, a, b, r)
        )
    return figures


def _reliability(reviews: Sequence[CurrentReview], name: str) -> np.ndarray:
    reviewers = sorted({r.reviewer_id for r in reviews})
    traces = sorted({r.trace_id for r in reviews})
    row = {reviewer: i for i, reviewer in enumerate(reviewers)}
    column = {trace: i for i, trace in enumerate(traces)}
    matrix = np.full((len(reviewers), len(traces)), np.nan)
    for review in reviews:
        value = review_scores(review).get(name)
        if value is not None:
            matrix[row[review.reviewer_id], column[review.trace_id]] = value
    return matrix


def _pairs(reviews: Sequence[CurrentReview], min_shared: int, r: _Resampling) -> list[ReviewerPair]:
    by_reviewer: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for review in reviews:
        by_reviewer[review.reviewer_id][review.trace_id] = review_scores(review)
    pairs = []
    for a, b in itertools.combinations(sorted(by_reviewer), 2):
        shared = sorted(set(by_reviewer[a]) & set(by_reviewer[b]))
        if len(shared) < min_shared:
            continue
        kappa: dict[str, Figure] = {}
        for name in DIMENSIONS:
            both = [t for t in shared if name in by_reviewer[a][t] and name in by_reviewer[b][t]]
            # Intervals for the overall figure only: a pair's per-criterion intervals would multiply the
            # bootstrap's cost by six for every pair of reviewers.
            resampling = r if name == OVERALL else _Resampling(0, r.seed, r.confidence)
            kappa[name] = _paired(
                KAPPA,
                [by_reviewer[a][t][name] for t in both],
                [by_reviewer[b][t][name] for t in both],
                resampling,
            )
        pairs.append(ReviewerPair(reviewer_a=a, reviewer_b=b, shared_traces=len(shared), kappa=kappa))
    return pairs


def between_reviewers(reviews: Sequence[CurrentReview], min_shared: int, r: _Resampling) -> BetweenReviewers:
    per_trace: dict[str, int] = defaultdict(int)
    for review in reviews:
        per_trace[review.trace_id] += 1
    alpha = {
        name: Figure.of(
            alpha_estimate(_reliability(reviews, name), r.resamples, r.seed, r.confidence)
            if reviews
            else Estimate(None, None, None, 0)
        )
        for name in DIMENSIONS
    }
    return BetweenReviewers(
        reviews=len(reviews),
        reviewers=len({review.reviewer_id for review in reviews}),
        traces=len(per_trace),
        multi_reviewed_traces=sum(1 for count in per_trace.values() if count >= 2),
        alpha=alpha,
        pairs=_pairs(reviews, min_shared, r),
    )


def _week_start(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def weekly_series(
    reviews: Sequence[CurrentReview], judgements: dict[GroupKey, dict[str, dict[str, Any]]]
) -> list[WeekPoint]:
    """Figures per ISO week of the reviews' submission (values only: a week is usually too small for CIs)."""
    weeks: dict[date, list[CurrentReview]] = defaultdict(list)
    for review in reviews:
        weeks[_week_start(review.created_at)].append(review)
    none = _Resampling(0, 0, 0.95)
    points = []
    for week in sorted(weeks):
        week_reviews = weeks[week]
        human = human_reference(week_reviews)
        alpha = alpha_estimate(_reliability(week_reviews, OVERALL), 0)
        judges = []
        for key, records in sorted(judgements.items(), key=lambda item: str(item[0])):
            judged = {t: judge_scores(rec) for t, rec in records.items() if t in human}
            traces = sorted(t for t in judged if OVERALL in judged[t] and OVERALL in human[t])
            if not traces:
                continue
            a = [judged[t][OVERALL] for t in traces]
            b = [human[t][OVERALL] for t in traces]
            judges.append(
                WeeklyJudge(
                    judge=key[0],
                    model=key[1],
                    rubric_version=key[2],
                    traces=len(traces),
                    mae=_paired(MAE, a, b, none).value,
                    spearman=_paired(SPEARMAN, a, b, none).value,
                )
            )
        points.append(
            WeekPoint(
                week_start=week,
                reviews=len(week_reviews),
                traces=len(human),
                alpha_overall=None if alpha.value is None else round(alpha.value, 4),
                judges=judges,
            )
        )
    return points


def agreement_report(session: Session, query: AgreementQuery) -> AgreementReport:
    reviews = repository.current_reviews(session, query.since, query.until, query.repo)
    human = human_reference(reviews)
    all_judgements = newest_judgements(repository.judge_records(session, human))
    judgements = {key: recs for key, recs in all_judgements.items() if _selected(key, query)}
    resamples = bootstrap_resamples(query.resamples, len(human))
    r = _Resampling(resamples, query.seed, query.confidence)
    groups = []
    for key, records in sorted(judgements.items(), key=lambda item: str(item[0])):
        raw = {t: judge_scores(rec) for t, rec in records.items() if t in human}
        calibrated = {t: judge_scores(rec, calibrated=True) for t, rec in records.items() if t in human}
        calibrated = {t: scores for t, scores in calibrated.items() if scores}
        groups.append(
            JudgeGroup(
                judge=key[0],
                model=key[1],
                rubric_version=key[2],
                traces=len(raw),
                figures=_judge_figures(raw, human, r),
                calibrated_traces=len(calibrated),
                calibrated=_judge_figures(calibrated, human, r) if calibrated else None,
            )
        )
    reduced = (
        f" (reduced from {query.resamples} for {len(human)} traces)" if resamples < query.resamples else ""
    )
    method = dict(
        METHOD, ci=f"{METHOD['ci']} {query.seed}, {resamples} resamples{reduced}, {query.confidence:g}"
    )
    return AgreementReport(
        generated_at=datetime.now(UTC),
        query=query,
        method=method,
        between_reviewers=between_reviewers(reviews, query.min_pair_traces, r),
        judge_vs_human=groups,
        weekly=weekly_series(reviews, judgements),
    )
