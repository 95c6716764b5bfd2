"""GET /api/export (streamed JSONL, sft or adp rows, or Parquet) and GET /api/exports (what was exported),
reviewer/admin."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError

from bugtrail.api.deps import DbSession, ReviewerPrincipal, get_database
from bugtrail.db.engine import Database
from bugtrail.errors import Forbidden, InvalidInput, NotFound
from bugtrail.export import flows, repository
from bugtrail.export.filters import ExportFilters, ExportFormat, ExportUse, ParquetLayout
from bugtrail.export.formats import flows as format_flows

router = APIRouter(prefix="/api", tags=["export"])


class ExportRecordRead(BaseModel):
    id: int
    requested_by: str | None
    format: str
    filters: dict[str, Any]
    trace_count: int | None
    byte_count: int | None
    sha256: str | None
    created_at: datetime
    completed_at: datetime | None


def export_filters(
    use: ExportUse = Query(
        "external",
        description="external: only traces whose developer consented to external use; "
        "internal: every trace, for use inside the organisation (admin keys only)",
    ),
    licence: list[str] | None = Query(
        None, description='licence rows carry: SPDX ids or "internal" (repeat or comma-separate)'
    ),
    status: list[str] | None = Query(None, description="repeat or comma-separate"),
    tests_passed: bool | None = None,
    resolved: bool | None = None,
    outcome: list[str] | None = Query(None, description="newest QA result's outcome: completed, error ..."),
    error_kind: list[str] | None = Query(None, description="environment | infrastructure | input"),
    patch_exact: bool | None = Query(None, description="every edit applied without fuzz"),
    upstream_match: bool | None = Query(None, description="final patch near-identical to a later commit"),
    duplicate: bool | None = Query(None, description="linked to an earlier near-duplicate trace"),
    min_reasoning_score: float | None = None,
    max_reasoning_score: float | None = None,
    developer_id: str | None = None,
    repo_url: str | None = None,
    review_decision: list[str] | None = Query(None, description="accept | reject | needs_changes"),
    min_human_score: float | None = Query(None, description="mean overall of the current human reviews"),
    created_after: datetime | None = Query(None, description="inclusive, ISO 8601"),
    created_before: datetime | None = Query(None, description="exclusive, ISO 8601"),
) -> ExportFilters:
    try:
        return ExportFilters(
            use=use,
            licence=licence,
            status=status,
            tests_passed=tests_passed,
            resolved=resolved,
            outcome=outcome,
            error_kind=error_kind,
            patch_exact=patch_exact,
            upstream_match=upstream_match,
            duplicate=duplicate,
            min_reasoning_score=min_reasoning_score,
            max_reasoning_score=max_reasoning_score,
            developer_id=developer_id,
            repo_url=repo_url,
            review_decision=review_decision,
            min_human_score=min_human_score,
            created_after=created_after,
            created_before=created_before,
        )
    except ValidationError as exc:
        raise InvalidInput(
            "invalid export filters", detail=exc.errors(include_url=False, include_context=False)
        ) from exc


@router.get(
    "/export",
    summary="Export traces as JSONL, sft or adp rows (streamed) or Parquet",
    responses={
        200: {
            "description": "the dataset, streamed",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def export_traces(
    principal: ReviewerPrincipal,
    format: ExportFormat = Query(
        "jsonl", description="jsonl (trace documents), sft (chat rows), adp (ADP trajectories), parquet"
    ),
    layout: ParquetLayout = Query("trace", description="parquet only: one row per trace or per event"),
    filters: ExportFilters = Depends(export_filters),
    database: Database = Depends(get_database),
) -> StreamingResponse:
    if filters.use == "internal" and not principal.is_admin:
        # Traces without consent leave the consented set only when an admin asks for it by name.
        raise Forbidden(
            "use=internal (traces without external-use consent included) needs an admin key",
            detail={"role": principal.role, "hint": "leave use out (external) for consented traces only"},
        )
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    # The blind rule: a reviewer's export carries no judge score or review of a trace they have not
    # reviewed, and selecting on those values would reveal them.
    if not principal.is_admin and filters.judged_fields():
        raise Forbidden(
            "filters on the judge's score or the human reviews need an admin key (reviews are blind)",
            detail={"filters": filters.judged_fields()},
        )
    blinding = flows.blinding_for(database, principal)
    if format in ("sft", "adp"):
        record_id = flows.start_export(database, format, filters, principal.developer_id)
        return StreamingResponse(
            format_flows.row_chunks(database, filters, record_id, format, blinding=blinding),
            media_type="application/x-ndjson",
            headers={
                "Content-Disposition": f'attachment; filename="bugtrail-{stamp}-{format}.jsonl"',
                "X-Bugtrail-Export-Id": str(record_id),
            },
        )
    if format == "jsonl":
        record_id = flows.start_export(database, "jsonl", filters, principal.developer_id)
        return StreamingResponse(
            flows.jsonl_chunks(database, filters, record_id, blinding=blinding),
            media_type="application/x-ndjson",
            headers={
                "Content-Disposition": f'attachment; filename="bugtrail-{stamp}.jsonl"',
                "X-Bugtrail-Export-Id": str(record_id),
            },
        )
    # Parquet needs its footer before it is readable: write to a temp file (constant memory, one row
    # group per batch), then stream the file and delete it.
    record_id = flows.start_export(database, "parquet", filters, principal.developer_id, layout)
    fd, name = tempfile.mkstemp(prefix="bugtrail-export-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        result = flows.write_parquet(database, filters, record_id, path, layout, blinding=blinding)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StreamingResponse(
        flows.file_chunks(path),
        media_type="application/vnd.apache.parquet",
        headers={
            "Content-Disposition": f'attachment; filename="bugtrail-{stamp}-{layout}.parquet"',
            "Content-Length": str(result.byte_count),
            "X-Bugtrail-Export-Id": str(record_id),
            "X-Bugtrail-Export-Sha256": result.sha256,
            "X-Bugtrail-Export-Count": str(result.trace_count),
        },
    )


@router.get("/exports", response_model=list[ExportRecordRead], summary="Past exports: filters, count, sha256")
def list_exports(session: DbSession, _principal: ReviewerPrincipal, limit: int = Query(100, ge=1, le=1000)):
    return [
        ExportRecordRead.model_validate(row, from_attributes=True)
        for row in repository.list_records(session, limit)
    ]


@router.get("/exports/{export_id}", response_model=ExportRecordRead)
def get_export(export_id: int, session: DbSession, _principal: ReviewerPrincipal):
    record = repository.get_record(session, export_id)
    if record is None:
        raise NotFound(f"no export {export_id}")
    return ExportRecordRead.model_validate(record, from_attributes=True)
