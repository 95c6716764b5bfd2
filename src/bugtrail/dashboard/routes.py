"""Server-rendered dashboard at /dashboard: overview charts and a page per trace (reviewer/admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bugtrail.api.deps import AppSettings, DbSession
from bugtrail.auth.keys import Principal, find_active
from bugtrail.dashboard import auth, repository, views
from bugtrail.traces.repository import get_trace_read

router = APIRouter(prefix="/dashboard", include_in_schema=False)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/plain"}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),  # trace content is untrusted
    trim_blocks=True,
    lstrip_blocks=True,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _gate(request: Request, session: DbSession) -> Principal | Response:
    principal = auth.current_principal(request, session)
    if principal is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    if not principal.can_read_all:
        return render(
            "message.html",
            403,
            principal=principal,
            title="Forbidden",
            message="The dashboard needs a reviewer or admin key.",
        )
    return principal


@router.get("/login")
def login_form(request: Request) -> Response:
    token = auth.new_csrf_token()
    response = render("login.html", csrf_token=token, error=None, principal=None)
    auth.set_cookie(request, response, auth.CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    api_key: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    token = auth.new_csrf_token()
    error = None
    principal = None
    if not auth.csrf_ok(request, csrf_token):
        error = "The form expired or came from another site; please try again."
    else:
        principal = find_active(session, api_key.strip()) if api_key.strip() else None
        if principal is None:
            error = "Unknown or revoked API key."
        elif not principal.can_read_all:
            error = "The dashboard needs a reviewer or admin key."
    if error is not None or principal is None:
        response = render(
            "login.html", 401 if principal is None else 403, csrf_token=token, error=error, principal=None
        )
        auth.set_cookie(request, response, auth.CSRF_COOKIE, token, 3600)
        return response
    session_token = auth.start_session(session, settings, principal)
    max_age = int(settings.dashboard_session_ttl_s)
    redirect = RedirectResponse("/dashboard", status_code=303)
    auth.set_cookie(request, redirect, auth.SESSION_COOKIE, session_token, max_age)
    auth.set_cookie(request, redirect, auth.CSRF_COOKIE, token, max_age)
    return redirect


@router.post("/logout")
def logout(request: Request, session: DbSession, csrf_token: str = Form("")) -> Response:
    if not auth.csrf_ok(request, csrf_token):
        return render("message.html", 403, principal=None, title="Forbidden", message="Invalid form token.")
    auth.end_session(request, session)  # server-side: a copied cookie stops working too
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
    return response


@router.get("")
def overview(request: Request, session: DbSession) -> Response:
    gate = _gate(request, session)
    if isinstance(gate, Response):
        return gate
    data = repository.overview(session)
    return render(
        "overview.html",
        principal=gate,
        csrf_token=request.cookies.get(auth.CSRF_COOKIE, ""),
        data=data,
        chart_data=views.chart_data(data),
        pass_rate=views.rate(data.qa_passed, data.qa_with_result),
        resolved_rate=views.rate(data.qa_resolved, data.qa_resolved_known),
        oldest_wait=views.age(data.oldest_queued_at),
    )


@router.get("/traces/{trace_id}")
def trace_page(trace_id: str, request: Request, session: DbSession, settings: AppSettings) -> Response:
    gate = _gate(request, session)
    if isinstance(gate, Response):
        return gate
    trace = get_trace_read(session, trace_id, settings.active_gap_s)
    if trace is None:
        return render("message.html", 404, principal=gate, title="Not found", message=f"No trace {trace_id}.")
    qa = trace.qa_results
    return render(
        "trace.html",
        principal=gate,
        csrf_token=request.cookies.get(auth.CSRF_COOKIE, ""),
        trace=trace,
        events=views.timeline(trace),
        hidden_events=max(0, len(trace.events) - views.MAX_EVENTS_SHOWN),
        qa=qa,
        criteria=views.criteria_rows(qa),
        tests={key: views.test_list(qa, key) for key in views.TEST_LISTS},
        curation=views.curation_facts(trace.curation),
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    # A fixed directory listing, never a path join with user input.
    files = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in STATIC_TYPES}
    path = files.get(name)
    if path is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        path.read_bytes(),
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
