"""One place that turns every error into JSON `{"error", "detail"}` with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bugtrail.errors import BugtrailError

log = logging.getLogger("bugtrail.api")


class ErrorBody(BaseModel):
    """Every error the API returns, whatever the status."""

    error: str = Field(description="what went wrong, in one sentence")
    detail: Any = Field(default=None, description="structured detail (field errors, limits, hints)")


# Declared on every route so the OpenAPI schema says what the API really answers (FastAPI's default 422
# schema describes its own error shape, which one handler below replaces).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "malformed request"),
        (401, "missing, unknown or revoked API key"),
        (403, "the key's role may not do this"),
        (404, "not found (or not visible to this key)"),
        (409, "conflicts with stored data"),
        (413, "over a size limit; nothing stored"),
        (422, "invalid payload; the detail names each field"),
        (503, "database unavailable; retry later"),
        (507, "storage full; retry later"),
    )
}


def error_response(status: int, error: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _location(loc: tuple[Any, ...]) -> str:
    """('body', 'events', 3, 'edit', 'details', 'file') -> 'events[3].details.file'."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if i == 0 and item in ("body", "query", "path", "header"):
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("edit", "command", "reasoning") and i > 0 and isinstance(loc[i - 1], int):
            continue  # the discriminated-union tag adds no information to the location
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "body"


def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        first = errors[0]
        return error_response(
            400, "malformed JSON body", {"position": first.get("loc"), "message": first.get("msg")}
        )
    problems = [
        {"field": _location(tuple(err.get("loc", ()))), "message": err.get("msg"), "type": err.get("type")}
        for err in errors
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    if len(problems) > 5:
        summary += f"; and {len(problems) - 5} more"
    return error_response(422, f"invalid request: {summary}", problems)


def _bugtrail_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BugtrailError)
    return error_response(exc.status_code, exc.message, exc.detail)


def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = error_response(exc.status_code, str(exc.detail), None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _storage_handler(request: Request, exc: Exception) -> JSONResponse:
    return storage_error_response(exc)


def storage_error_response(exc: Exception) -> JSONResponse:
    """507 for a full disk, 503 for an unreachable or locked database, else 500 (logged)."""
    message = str(exc).lower()
    if ("disk" in message and "full" in message) or "no space" in message:
        return error_response(
            507, "the server's storage is full; nothing from this request was stored", {"retry": "later"}
        )
    if "locked" in message or "connection" in message or "could not" in message:
        log.warning("database unavailable: %s", exc)
        return error_response(
            503, "the database is unavailable; nothing from this request was stored", {"retry": "later"}
        )
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error", None)


def _integrity_handler(_request: Request, exc: Exception) -> JSONResponse:
    # Uniqueness races the service did not anticipate: a conflict for the client, never a 500.
    log.warning("integrity error: %s", exc)
    return error_response(
        409,
        "conflicting concurrent write; nothing from this request was stored",
        {"retry": "resend the request"},
    )


def _data_handler(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database refuses (e.g. NUL in a PostgreSQL text column): the request's fault, not a 500.
    assert isinstance(exc, DataError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    return error_response(422, f"a value in the request cannot be stored: {reason}", None)


def _overflow_handler(_request: Request, exc: Exception) -> JSONResponse:
    # An id beyond 64 bits reaches the driver (SQLite raises OverflowError): no such object can exist.
    return error_response(422, "a number in the request is out of range", {"max": 2**63 - 1})


def _unexpected_handler(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error", None)


# Most specific first: render_exception takes the first that matches (FastAPI looks up the MRO; none of
# these classes derives from another one listed before it, so both choose the same handler).
_HANDLERS: tuple[tuple[type[Exception], Any], ...] = (
    (RequestValidationError, _validation_handler),
    (BugtrailError, _bugtrail_handler),
    (StarletteHTTPException, _http_handler),
    (OperationalError, _storage_handler),
    (IntegrityError, _integrity_handler),
    (DataError, _data_handler),
    (OverflowError, _overflow_handler),
    (Exception, _unexpected_handler),
)


def install_error_handlers(app: FastAPI) -> None:
    for exception_class, handler in _HANDLERS:
        app.add_exception_handler(exception_class, handler)


def render_exception(request: Request, exc: Exception) -> JSONResponse:
    """The response FastAPI's handlers above give `exc`, for code that runs in front of FastAPI."""
    for exception_class, handler in _HANDLERS:
        if isinstance(exc, exception_class):
            response: JSONResponse = handler(request, exc)
            return response
    return _unexpected_handler(request, exc)
