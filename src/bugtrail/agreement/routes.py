"""Agreement figures (reviewers and admins), judge calibrations (admins), and the dashboard's agreement page
(/dashboard/agreement, here so the dashboard's router stays the dashboard's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError

from bugtrail.agreement import calibrations, service
from bugtrail.agreement.charts import chart_data, group_label
from bugtrail.agreement.schemas import (
    MAX_RESAMPLES,
    AgreementQuery,
    AgreementReport,
    CalibrationRead,
    CalibrationRequest,
)
from bugtrail.api.deps import AdminPrincipal, DbSession, ReviewerPrincipal
from bugtrail.dashboard.auth import CSRF_COOKIE
from bugtrail.errors import InvalidInput, validation_problems

router = APIRouter(prefix="/api", tags=["agreement"])
FILTERS = ("since", "until", "judge", "model", "rubric_version", "repo", "min_pair_traces", "seed")


@router.get("/reviews/agreement", response_model=AgreementReport)
def agreement(
    session: DbSession,
    _reviewer: ReviewerPrincipal,
    since: datetime | None = None,
    until: datetime | None = None,
    judge: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(max_length=200)] = None,
    rubric_version: Annotated[str | None, Query(max_length=64)] = None,
    repo: Annotated[str | None, Query(max_length=2000)] = None,
    min_pair_traces: Annotated[int, Query(ge=2, le=10_000)] = 5,
    resamples: Annotated[int, Query(ge=0, le=MAX_RESAMPLES)] = 1000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    confidence: Annotated[float, Query(gt=0.5, lt=1.0)] = 0.95,
) -> AgreementReport:
    """Agreement between reviewers (alpha, pairwise kappa) and between each judge and people (Spearman,
    kappa, MAE), with bootstrap confidence intervals; see docs/review.md, "Agreement"."""
    try:
        query = AgreementQuery(
            since=since,
            until=until,
            judge=judge,
            model=model,
            rubric_version=rubric_version,
            repo=repo,
            min_pair_traces=min_pair_traces,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
        )
    except ValidationError as exc:  # only the cross-field rule (since <= until) is left to fail here
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise InvalidInput(
            f"invalid request: since: {message}",
            [{"field": "since", "message": message, "type": "value_error"}],
        ) from exc
    return service.agreement_report(session, query)


@router.post("/judge/calibrations", response_model=CalibrationRead, status_code=status.HTTP_201_CREATED)
def create_calibration(
    body: CalibrationRequest, session: DbSession, admin: AdminPrincipal
) -> CalibrationRead:
    """Fit a monotone map from this judge's scores to the reviews' scale and make it the active one."""
    return calibrations.fit_and_store(session, body, admin.developer_id)


@router.get("/judge/calibrations", response_model=list[CalibrationRead])
def list_calibrations(
    session: DbSession,
    _admin: AdminPrincipal,
    judge: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CalibrationRead]:
    return calibrations.list_calibrations(session, judge, limit)


@router.get("/judge/calibrations/{calibration_id}", response_model=CalibrationRead)
def show_calibration(calibration_id: int, session: DbSession, _admin: AdminPrincipal) -> CalibrationRead:
    return calibrations.get_calibration(session, calibration_id)


@router.post("/judge/calibrations/{calibration_id}/activate", response_model=CalibrationRead)
def activate_calibration(calibration_id: int, session: DbSession, _admin: AdminPrincipal) -> CalibrationRead:
    """Make an earlier version the judge's active calibration again (for new judge records)."""
    return calibrations.activate(session, calibration_id)


# --- dashboard page (server-rendered, the dashboard's login and templates) ------------------------------

dashboard_router = APIRouter(prefix="/dashboard", include_in_schema=False)


@dashboard_router.get("/agreement")
def agreement_page(request: Request, session: DbSession) -> Response:
    from bugtrail.dashboard.routes import gate as dashboard_gate
    from bugtrail.dashboard.routes import render

    gate = dashboard_gate(request, session)
    if isinstance(gate, Response):
        return gate
    params = {k: v for k, v in request.query_params.items() if k in FILTERS and v.strip()}
    try:
        query = AgreementQuery.model_validate(params)
    except ValidationError as exc:
        problems = validation_problems(exc, "since")  # the one cross-field rule: since <= until
        return render("message.html", 422, principal=gate, title="Invalid filter", message=problems)
    report = service.agreement_report(session, query)
    return render(
        "agreement.html",
        principal=gate,
        csrf_token=request.cookies.get(CSRF_COOKIE, ""),
        report=report,
        filters=params,
        chart_data=chart_data(report),
        group_label=group_label,
    )
