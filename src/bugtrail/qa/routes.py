"""HTTP routes for QA: re-run (reviewer/admin) and the result history of a trace."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from bugtrail.api.deps import AppSettings, CurrentPrincipal, DbSession, ReviewerPrincipal
from bugtrail.qa import service
from bugtrail.qa.service import QaHistoryItem, RerunResult

router = APIRouter(prefix="/api", tags=["qa"])


@router.post("/traces/{trace_id}/qa/rerun", response_model=RerunResult, status_code=status.HTTP_202_ACCEPTED)
def rerun_qa(
    trace_id: uuid.UUID, session: DbSession, settings: AppSettings, principal: ReviewerPrincipal
) -> RerunResult:
    """Queue a fresh QA run of a finalized trace; earlier results are kept as history."""
    return service.rerun_qa(session, settings, principal, str(trace_id))


@router.get("/traces/{trace_id}/qa/results", response_model=list[QaHistoryItem])
def qa_history(trace_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> list[QaHistoryItem]:
    """All QA results of a trace, newest first; `latest` marks the one shown as the trace's qa_results."""
    return service.qa_history(session, principal, str(trace_id))
