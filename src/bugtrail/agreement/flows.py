"""Calibration applied where judge records are made, and re-applied to stored ones (scopes of their own).

- `calibrate_new_record`: QA (qa.pipeline) and `bugtrail judge TRACE_ID` pass each fresh judge record
  through it: the judge's active calibration, when it matches the record's judge, model and rubric
  version, adds `calibrated` (the scores on the human scale); the raw scores stay as they were.
- `recalibrate_stored`: `bugtrail judge recalibrate` (and `calibrate --apply`) rewrites `calibrated` on
  every stored QA result's judge record from the active calibrations, page by page, one short write
  transaction per page, so SQLite's writer is never held for long. A record with no matching active
  calibration loses a stale `calibrated`.
"""

from __future__ import annotations

from typing import Any

from bugtrail.agreement import calibrations, repository
from bugtrail.agreement.schemas import RecalibrationCount
from bugtrail.db.engine import Database

PAGE = 500


def calibrate_new_record(database: Database, record: dict[str, Any] | None) -> dict[str, Any] | None:
    if not record or record.get("error") or not record.get("judge"):
        return record
    with database.scope(read_only=True) as session:
        calibration = repository.active_calibration(session, str(record["judge"]))
        return calibrations.calibrated_record(calibration, record)


def recalibrate_stored(
    database: Database, judge: str | None = None, page_size: int = PAGE
) -> RecalibrationCount:
    examined = calibrated = cleared = 0
    after = 0
    while True:
        with database.scope() as session:
            active = {row.judge: row for row in repository.active_calibrations(session)}
            page, last = repository.judge_record_page(session, after, page_size)
            if last is None:
                break
            after = last
            for stored in page:
                if judge is not None and stored.record.get("judge") != judge:
                    continue
                before = repository.locked_judge_record(session, stored.qa_result_id)
                if before is None:
                    continue
                examined += 1
                updated = calibrations.calibrated_record(active.get(str(before.get("judge"))), before)
                if "calibrated" in updated:
                    calibrated += 1
                elif "calibrated" in before:
                    cleared += 1
                if updated != before:
                    repository.set_judge_record(session, stored.qa_result_id, updated)
    return RecalibrationCount(examined=examined, calibrated=calibrated, cleared=cleared)
