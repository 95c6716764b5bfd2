"""All SQL of the agreement domain: current reviews, judge records of reviewed traces, calibrations.

Reads the `review`, `trace` and `qa_result` tables directly; writes only `judge_calibration` and the judge
record inside `qa_result.result` (re-applying a calibration). Flushes only; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import JudgeCalibration, QaResult, Review, Trace

IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


@dataclass(frozen=True)
class CurrentReview:
    trace_id: str
    reviewer_id: str
    criteria: dict[str, Any]
    overall: float
    created_at: datetime


@dataclass(frozen=True)
class StoredJudge:
    qa_result_id: int
    trace_id: str
    record: dict[str, Any]


def current_reviews(
    session: Session, since: datetime | None, until: datetime | None, repo: str | None
) -> list[CurrentReview]:
    """The latest review per (trace, reviewer) as of `until` (later ones supersede earlier ones), kept if
    it was submitted at or after `since`; traces of `repo` only when given."""
    latest = select(func.max(Review.id).label("id")).group_by(Review.trace_id, Review.reviewer_id)
    if until is not None:
        latest = latest.where(Review.created_at <= until)
    query = select(Review).where(Review.id.in_(latest.scalar_subquery()))
    if since is not None:
        query = query.where(Review.created_at >= since)
    if repo is not None:
        query = query.join(Trace, Trace.trace_id == Review.trace_id).where(Trace.repo_url == repo)
    rows = session.scalars(query.order_by(Review.id)).all()
    return [
        CurrentReview(
            trace_id=row.trace_id,
            reviewer_id=row.reviewer_id,
            criteria=dict(row.criteria or {}),
            overall=float(row.overall),
            created_at=row.created_at,
        )
        for row in rows
    ]


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def judge_records(session: Session, trace_ids: Iterable[str]) -> list[StoredJudge]:
    """Every QA result's judge record for these traces, oldest first (the caller keeps the newest).

    Only the document's "judge" member is read (JSON path in the database), not the test output beside it.
    """
    found: list[StoredJudge] = []
    for chunk in _chunks(sorted(set(trace_ids))):
        rows = session.execute(
            select(QaResult.id, QaResult.trace_id, QaResult.result["judge"])
            .where(QaResult.trace_id.in_(chunk))
            .order_by(QaResult.id)
        ).all()
        for row_id, trace_id, record in rows:
            if isinstance(record, dict):
                found.append(StoredJudge(qa_result_id=int(row_id), trace_id=trace_id, record=record))
    return found


def judge_record_page(session: Session, after_id: int, limit: int) -> tuple[list[StoredJudge], int | None]:
    """The next `limit` QA results after `after_id` (id order): those that carry a judge record, and the
    last id scanned (None when there are no more rows), so pages without judge records do not end the walk."""
    rows = session.execute(
        select(QaResult.id, QaResult.trace_id, QaResult.result["judge"])
        .where(QaResult.id > after_id)
        .order_by(QaResult.id)
        .limit(limit)
    ).all()
    found = [
        StoredJudge(qa_result_id=int(row_id), trace_id=trace_id, record=record)
        for row_id, trace_id, record in rows
        if isinstance(record, dict)
    ]
    return found, (int(rows[-1][0]) if rows else None)


def locked_judge_record(session: Session, qa_result_id: int) -> dict[str, Any] | None:
    """The judge record of one QA result, its row locked (PostgreSQL) so a re-judge cannot interleave."""
    row = session.get(QaResult, qa_result_id, with_for_update=True, populate_existing=True)
    judge = row.result.get("judge") if row is not None and isinstance(row.result, dict) else None
    return judge if isinstance(judge, dict) else None


def set_judge_record(session: Session, qa_result_id: int, record: dict[str, Any]) -> bool:
    """Replace the judge record inside one QA result's document (a new dict, so the JSON is rewritten)."""
    row = session.get(QaResult, qa_result_id)
    if row is None or not isinstance(row.result, dict):
        return False
    row.result = {**row.result, "judge": record}
    session.flush()
    return True


def active_calibration(session: Session, judge: str) -> JudgeCalibration | None:
    return session.scalar(
        select(JudgeCalibration)
        .where(JudgeCalibration.judge == judge, JudgeCalibration.active.is_(True))
        .order_by(JudgeCalibration.version.desc())
        .limit(1)
    )


def active_calibrations(session: Session) -> list[JudgeCalibration]:
    return list(session.scalars(select(JudgeCalibration).where(JudgeCalibration.active.is_(True))).all())


def list_calibrations(session: Session, judge: str | None, limit: int) -> list[JudgeCalibration]:
    query = select(JudgeCalibration)
    if judge is not None:
        query = query.where(JudgeCalibration.judge == judge)
    return list(session.scalars(query.order_by(JudgeCalibration.id.desc()).limit(limit)).all())


def get_calibration(session: Session, calibration_id: int) -> JudgeCalibration | None:
    return session.get(JudgeCalibration, calibration_id)


def add_calibration(
    session: Session,
    *,
    judge: str,
    model: str | None,
    rubric_version: str,
    mapping: dict[str, Any],
    sample_count: int,
    metrics: dict[str, Any],
    created_by: str | None,
) -> JudgeCalibration:
    """Store the next version for this judge as the active one (the judge's other versions go inactive).

    Two fits racing for the same version number meet the unique (judge, version) constraint: one fails
    with IntegrityError and nothing of it is stored.
    """
    version = (
        session.scalar(select(func.max(JudgeCalibration.version)).where(JudgeCalibration.judge == judge)) or 0
    ) + 1
    session.execute(
        update(JudgeCalibration)
        .where(JudgeCalibration.judge == judge, JudgeCalibration.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    row = JudgeCalibration(
        version=version,
        judge=judge,
        model=model,
        rubric_version=rubric_version,
        mapping=mapping,
        sample_count=sample_count,
        metrics=metrics,
        active=True,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def activate_calibration(session: Session, row: JudgeCalibration) -> JudgeCalibration:
    session.execute(
        update(JudgeCalibration)
        .where(JudgeCalibration.judge == row.judge, JudgeCalibration.id != row.id)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    row.active = True
    session.flush()
    return row
