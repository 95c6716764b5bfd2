"""Dashboard login: an API key is exchanged for an opaque, server-side, expiring, revocable session.

The cookie holds a random session token (never the API key); the database keeps only its sha256 with
the key it belongs to, its expiry and its revocation. Logout revokes the row, so a copied cookie stops
working; revoking the API key ends all its sessions; a session lasts `dashboard_session_ttl_s`.
The cookie is HttpOnly, SameSite=Strict, scoped to /dashboard, and Secure over HTTPS, so page scripts
cannot read it and other sites cannot make the browser send it. The only state-changing forms (login,
logout) carry a double-submit CSRF token and must come from this origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.dashboard import repository
from bugtrail.db.models import utcnow

SESSION_COOKIE = "bugtrail_dashboard"
CSRF_COOKIE = "bugtrail_csrf"
COOKIE_PATH = "/dashboard"


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, settings: Settings, principal: Principal) -> str:
    """A new session for this key; returns the token for the cookie (shown nowhere else)."""
    now = utcnow()
    repository.delete_expired_sessions(session, now)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=settings.dashboard_session_ttl_s)
    repository.add_session(session, _token_hash(token), principal.key_id, expires)
    return token


def current_principal(request: Request, session: Session) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    key = repository.live_session_key(session, _token_hash(token), utcnow())
    if key is None:
        return None
    return Principal(key_id=key.id, developer_id=key.developer_id, role=key.role)


def end_session(request: Request, session: Session) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        repository.revoke_session(session, _token_hash(token), utcnow())


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
