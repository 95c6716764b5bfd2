"""Dashboard login with an API key.

The key is kept in an HttpOnly, SameSite=Strict cookie scoped to /dashboard (Secure over HTTPS), so
page scripts cannot read it and other sites cannot make the browser send it. The only state-changing
forms (login, logout) carry a double-submit CSRF token and must come from this origin.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal, find_active

SESSION_COOKIE = "bugtrail_dashboard"
CSRF_COOKIE = "bugtrail_csrf"
COOKIE_PATH = "/dashboard"
SESSION_MAX_AGE_S = 12 * 3600


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def current_principal(request: Request, session: Session) -> Principal | None:
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    return find_active(session, key)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        return origin == expected
    return True
