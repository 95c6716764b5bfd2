"""Re-judge one stored trace without re-running its tests (`bugtrail judge TRACE_ID`).

The trace is read in one short read-only transaction, judged with no transaction open (a model call can
take a minute; SQLite would otherwise hold its write lock), and the record is written in a second
transaction. A judge failure is not stored over an existing score: the caller gets the record back with
`error` set and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bugtrail.agreement.flows import calibrate_new_record
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.errors import Conflict, NotFound
from bugtrail.qa.judge import get_judge
from bugtrail.qa.judge.record import JudgeRecord
from bugtrail.qa.judge.repository import store_judge_record
from bugtrail.traces import repository as traces


@dataclass(frozen=True)
class Rejudged:
    record: JudgeRecord
    stored: bool
    qa_result_id: int | None = None
    created_qa_result: bool = False


def rejudge_trace(settings: Settings, database: Database, trace_id: str, store: bool = True) -> Rejudged:
    with database.scope(read_only=True) as session:
        trace = traces.get_trace_read(session, trace_id)
    if trace is None:
        raise NotFound(f"no trace {trace_id}")
    if trace.status == "pending":
        raise Conflict(
            f"trace {trace_id} is still being recorded (status pending)", "finalize it first, then judge it"
        )
    record = get_judge(settings).judge(trace)
    if record.error is None:  # the active calibration's scores beside the raw ones (agreement.flows)
        record = JudgeRecord.model_validate(calibrate_new_record(database, record.model_dump(mode="json")))
    if record.error is not None or not store:
        return Rejudged(record=record, stored=False)
    with database.scope() as session:
        row = traces.get_trace(session, trace_id, for_update=True)
        if row is None:
            raise NotFound(f"trace {trace_id} was deleted while it was judged")
        qa_result, created = store_judge_record(session, row, record.model_dump(mode="json"))
        return Rejudged(record=record, stored=True, qa_result_id=qa_result.id, created_qa_result=created)
