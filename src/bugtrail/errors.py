"""Errors that carry their HTTP status; the API renders them as {"error", "detail"}, the CLI prints them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class BugtrailError(Exception):
    status_code = 400

    def __init__(self, message: str, detail: Any = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code


class BadRequest(BugtrailError):
    status_code = 400


class Unauthorized(BugtrailError):
    status_code = 401


class Forbidden(BugtrailError):
    status_code = 403


class NotFound(BugtrailError):
    status_code = 404


class Conflict(BugtrailError):
    status_code = 409


class TooLarge(BugtrailError):
    status_code = 413


class InvalidInput(BugtrailError):
    status_code = 422


class Unavailable(BugtrailError):
    status_code = 503


def validation_problems(exc: ValidationError, place: str) -> str:
    """A ValidationError as one line, `where: what; ...` (`place` names an error of the whole model)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or place}: {e['msg']}" for e in exc.errors())
