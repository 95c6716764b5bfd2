"""Dashboard review pages: /dashboard/queue ("next trace" takes from the review queue) and
/dashboard/review/{trace_id} (the trace timeline beside the review form; static/review.js adds the
keyboard: 1-5 score the focused criterion, a/r/n pick the decision, Ctrl+Enter submits).

The reviewer sees the trace blind (no judge score, no other review) until they have submitted. Forms carry
the double-submit CSRF token, as login and logout do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from bugtrail.api.deps import AppSettings, DbSession, run_write
from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.dashboard import auth, views
from bugtrail.dashboard.reviewing import forms
from bugtrail.dashboard.routes import gate, render
from bugtrail.db.models import utcnow
from bugtrail.errors import BugtrailError, InvalidInput
from bugtrail.qa.judge.record import CRITERIA
from bugtrail.reviews import queue, service
from bugtrail.reviews import repository as reviews
from bugtrail.reviews.visibility import apply_view, trace_view
from bugtrail.traces.repository import get_trace_read

router = APIRouter(prefix="/dashboard", include_in_schema=False)

# Every event of a shown trace has two mark fields; the rest of the form is a handful.
MAX_FORM_FIELDS = 2 * views.MAX_EVENTS_SHOWN + 50


def _csrf(request: Request) -> str:
    return request.cookies.get(auth.CSRF_COOKIE, "")


def _queue_page(
    request: Request, session: Session, principal: Principal, message: str | None, status_code: int = 200
) -> Response:
    now = utcnow()
    held = reviews.held_lease(session, principal.developer_id, now)
    return render(
        "queue.html",
        status_code,
        principal=principal,
        csrf_token=_csrf(request),
        held=held,
        waiting=reviews.waiting_count(session, principal.developer_id, now, queue.WAITING_CAP),
        recent=service.list_reviews(
            session, principal, reviews.ReviewFilter(reviewer=principal.developer_id), 10, None
        ).items,
        message=message,
    )


@router.get("/queue")
def queue_page(request: Request, session: DbSession, submitted: str | None = None) -> Response:
    principal = gate(request, session)
    if isinstance(principal, Response):
        return principal
    message = "Review submitted. Take the next trace when you are ready." if submitted else None
    return _queue_page(request, session, principal, message)


@router.post("/queue/next")
def take_next(
    request: Request, session: DbSession, settings: AppSettings, csrf_token: str = Form("")
) -> Response:
    principal = gate(request, session)
    if isinstance(principal, Response):
        return principal
    if not auth.csrf_ok(request, csrf_token):
        return render(
            "message.html", 403, principal=principal, title="Forbidden", message="Invalid form token."
        )
    taken = queue.take(session, settings, principal)
    if taken.trace_id is None:
        return _queue_page(
            request, session, principal, "Nothing is waiting for you: every trace has its reviews."
        )
    return RedirectResponse(f"/dashboard/review/{taken.trace_id}", status_code=303)


def _review_page(
    request: Request,
    session: Session,
    principal: Principal,
    trace_id: str,
    parsed: forms.ParsedForm | None = None,
    status_code: int = 200,
) -> Response:
    trace = get_trace_read(session, trace_id)
    if trace is None:
        return render(
            "message.html", 404, principal=principal, title="Not found", message=f"No trace {trace_id}."
        )
    if trace.developer_id == principal.developer_id:
        return render(
            "message.html",
            403,
            principal=principal,
            title="Forbidden",
            message="Nobody reviews their own trace.",
        )
    if trace.status not in reviews.QA_FINISHED:
        message = f"This trace cannot be reviewed before its QA has finished (status {trace.status})."
        return render("message.html", 409, principal=principal, title="Not ready", message=message)
    view = trace_view(session, principal, trace_id, trace.developer_id)
    trace = apply_view(trace, view)
    previous = reviews.latest_review_by(session, trace_id, principal.developer_id)
    return render(
        "review.html",
        status_code,
        principal=principal,
        csrf_token=_csrf(request),
        trace=trace,
        qa=trace.qa_results,
        blind=view == "blind",
        events=views.timeline(trace),
        hidden_events=max(0, len(trace.events) - views.MAX_EVENTS_SHOWN),
        criteria=CRITERIA,
        mark_labels=forms.MARK_LABELS,
        values=parsed.values if parsed else {"criteria": {}, "marks": {}},
        errors=parsed.errors if parsed else {},
        previous=previous,
    )


@router.get("/review/{trace_id}")
def review_page(trace_id: str, request: Request, session: DbSession) -> Response:
    principal = gate(request, session)
    if isinstance(principal, Response):
        return principal
    return _review_page(request, session, principal, trace_id)


def _submit(
    request: Request, session: Session, settings: Settings, trace_id: str, form: dict[str, str]
) -> Response:
    principal = gate(request, session)
    if isinstance(principal, Response):
        return principal
    if not auth.csrf_ok(request, form.get("csrf_token")):
        return render(
            "message.html", 403, principal=principal, title="Forbidden", message="Invalid form token."
        )
    parsed = forms.parse(form)
    if parsed.review is None:
        return _review_page(request, session, principal, trace_id, parsed, 422)
    try:
        service.submit_review(session, settings, principal, trace_id, parsed.review)
    except InvalidInput as exc:  # a marked event that is not in the trace
        problems: list[dict[str, Any]] = exc.detail if isinstance(exc.detail, list) else []
        parsed.errors = {str(p.get("field")): str(p.get("message")) for p in problems} or {
            "form": exc.message
        }
        return _review_page(request, session, principal, trace_id, parsed, 422)
    except BugtrailError as exc:
        return render(
            "message.html", exc.status_code, principal=principal, title="Not submitted", message=exc.message
        )
    return RedirectResponse(f"/dashboard/queue?submitted={trace_id}", status_code=303)


@router.post("/review/{trace_id}")
async def submit_review(trace_id: str, request: Request, settings: AppSettings) -> Response:
    # The form is read before any transaction starts: a slow upload never holds the database writer.
    submitted = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    form = {key: value for key, value in submitted.items() if isinstance(value, str)}
    return await run_write(request, lambda session: _submit(request, session, settings, trace_id, form))
