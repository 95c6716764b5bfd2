"""Judge calibrations: fit and store a version, list, activate, and the calibrated judge record (rules; SQL
in repository.py, maths in calibration.py). Flushes only: the caller owns the transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bugtrail.agreement import repository
from bugtrail.agreement.calibration import Pair, calibrated_scores, fit_calibration
from bugtrail.agreement.schemas import CalibrationRead, CalibrationRequest
from bugtrail.agreement.service import human_reference, judge_scores, newest_judgements
from bugtrail.db.models import JudgeCalibration
from bugtrail.errors import Conflict, NotFound


def calibration_pairs(session: Session, judge: str, model: str | None, rubric_version: str) -> list[Pair]:
    """Every reviewed trace this judge (model, rubric) scored: its raw scores and the reviews' mean."""
    human = human_reference(repository.current_reviews(session, None, None, None))
    records = newest_judgements(repository.judge_records(session, human)).get((judge, model, rubric_version))
    return [
        Pair(trace_id=trace, judge=judge_scores(record), human=human[trace])
        for trace, record in sorted((records or {}).items())
    ]


def to_read(row: JudgeCalibration) -> CalibrationRead:
    return CalibrationRead.model_validate(row, from_attributes=True)


def fit_and_store(session: Session, request: CalibrationRequest, created_by: str | None) -> CalibrationRead:
    """Fit a calibration on the reviewed traces, store it as the judge's next active version."""
    pairs = calibration_pairs(session, request.judge, request.model, request.rubric_version)
    if len(pairs) < request.min_samples:
        raise Conflict(
            f"only {len(pairs)} reviewed traces were judged by {request.judge} "
            f"(model {request.model or 'none'}, rubric {request.rubric_version!r}); "
            f"calibration needs at least {request.min_samples}",
            detail={"reviewed_traces": len(pairs), "min_samples": request.min_samples},
        )
    fit = fit_calibration(pairs, request.holdout, request.seed)
    try:
        row = repository.add_calibration(
            session,
            judge=request.judge,
            model=request.model,
            rubric_version=request.rubric_version,
            mapping=fit.mapping,
            sample_count=fit.sample_count,
            metrics=fit.metrics,
            created_by=created_by,
        )
    except IntegrityError as exc:
        raise Conflict("another calibration of this judge was stored at the same time; try again") from exc
    return to_read(row)


def list_calibrations(session: Session, judge: str | None, limit: int = 100) -> list[CalibrationRead]:
    return [to_read(row) for row in repository.list_calibrations(session, judge, limit)]


def get_calibration(session: Session, calibration_id: int) -> CalibrationRead:
    row = repository.get_calibration(session, calibration_id)
    if row is None:
        raise NotFound(f"no judge calibration {calibration_id}")
    return to_read(row)


def activate(session: Session, calibration_id: int) -> CalibrationRead:
    row = repository.get_calibration(session, calibration_id)
    if row is None:
        raise NotFound(f"no judge calibration {calibration_id}")
    return to_read(repository.activate_calibration(session, row))


def matches(calibration: JudgeCalibration | CalibrationRead, record: dict[str, Any]) -> bool:
    """A calibration applies only to records of its own judge, model and rubric version."""
    return (
        record.get("judge") == calibration.judge
        and record.get("model") == calibration.model
        and record.get("rubric_version") == calibration.rubric_version
    )


def calibrated_record(calibration: JudgeCalibration | None, record: dict[str, Any]) -> dict[str, Any]:
    """The judge record with `calibrated` set from this calibration, or removed when it does not apply."""
    updated = {k: v for k, v in record.items() if k != "calibrated"}
    if calibration is None or not matches(calibration, record) or record.get("error"):
        return updated
    scores = calibrated_scores(calibration.mapping, record)
    if scores is None:
        return updated
    updated["calibrated"] = {
        "calibration_id": calibration.id,
        "version": calibration.version,
        "reasoning_score": scores["reasoning_score"],
        "criteria": scores["criteria"],
        "applied_at": datetime.now(UTC).isoformat(),
    }
    return updated
