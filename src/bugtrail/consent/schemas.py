"""Consent and licence as the API takes and serves them, and the licence every exported row carries.

Licences are SPDX identifiers from an accepted list (the licences the organisation's contributor agreement
offers), matched case-insensitively and stored in their SPDX spelling, plus "internal": the traces stay
inside the organisation whatever else is set.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bugtrail.wire import TraceConsent

INTERNAL = "internal"
# SPDX ids accepted for contributed traces: open data and code licences a dataset can be released under.
ACCEPTED_LICENCES: tuple[str, ...] = (
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0",
    "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0",
    "ODC-By-1.0",
    "ODbL-1.0",
    "PDDL-1.0",
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
)
_BY_LOWER = {licence.lower(): licence for licence in (*ACCEPTED_LICENCES, INTERNAL)}
# Clock skew tolerated between an admin's machine and the server for a consent date "now".
FUTURE_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_DEVELOPER_CHARS = 200


def canonical_licence(value: str) -> str:
    """The SPDX spelling of an accepted licence id (or "internal"); ValueError naming the choices."""
    found = _BY_LOWER.get(value.strip().lower()) if isinstance(value, str) else None
    if found is None:
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise ValueError(
            f"{shown!r} is not an accepted licence; use one of {', '.join(ACCEPTED_LICENCES)} or {INTERNAL!r}"
        )
    return found


def check_developer_id(value: str) -> str:
    """A developer id as API keys carry it: non-empty, at most 200 characters, one printable line."""
    value = value.strip()
    if not value:
        raise ValueError("developer_id must not be empty")
    if len(value) > MAX_DEVELOPER_CHARS:
        raise ValueError(f"developer_id is longer than {MAX_DEVELOPER_CHARS} characters")
    if _CONTROL.search(value):
        raise ValueError("developer_id must not contain control characters")
    return value


def check_given_at(value: datetime | None, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("consent_given_at needs a timezone offset (e.g. 2026-05-01T09:00:00Z)")
    now = now or datetime.now(UTC)
    if value > now + FUTURE_SKEW:
        raise ValueError("consent_given_at is in the future; record consent once it is given")
    if value < EARLIEST:
        raise ValueError(f"consent_given_at is before {EARLIEST.date().isoformat()}; check the date")
    return value.astimezone(UTC)


class ConsentSet(BaseModel):
    """PUT /api/developers/{developer_id}/consent: the whole record (a PUT replaces every field).

    `consent_given_at` left out means "given now"; an explicit null records the licence with consent
    still pending (nothing of theirs leaves the organisation until it is given).
    """

    model_config = ConfigDict(extra="forbid")

    licence: str = Field(
        max_length=64,
        validation_alias=AliasChoices("licence", "license"),
        description=f"an accepted SPDX id (e.g. CC-BY-4.0) or {INTERNAL!r}",
        examples=["CC-BY-4.0"],
    )
    external_use: bool = Field(
        default=False, description="whether the traces may be exported outside the organisation (default no)"
    )
    consent_given_at: AwareDatetime | None = Field(
        default=None,
        validation_alias=AliasChoices("consent_given_at", "given_at"),
        description="when the developer consented (ISO 8601 with offset); omitted: now; null: pending",
    )

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str) -> str:
        return canonical_licence(value)

    @field_validator("consent_given_at")
    @classmethod
    def _given_at(cls, value: datetime | None) -> datetime | None:
        return check_given_at(value)

    @model_validator(mode="after")
    def _internal_stays_inside(self) -> ConsentSet:
        if self.licence == INTERNAL and self.external_use:
            raise ValueError(
                f"external_use cannot be true with licence {INTERNAL!r}; choose an SPDX licence to allow it"
            )
        return self

    def given_at(self, now: datetime) -> datetime | None:
        """The consent time to store: as sent, null when sent as null, `now` when left out."""
        return self.consent_given_at if "consent_given_at" in self.model_fields_set else now


class ConsentRead(BaseModel):
    developer_id: str
    licence: str
    consent_given_at: datetime | None
    external_use: bool
    updated_by: str | None = None
    created_at: datetime
    updated_at: datetime
    external_export: bool = Field(
        description="whether default (use=external) exports include this developer's traces"
    )


def external_export(licence: str, given_at: datetime | None, external_use: bool) -> bool:
    """Consent given, external use allowed and an SPDX licence: the rule exports apply in SQL too."""
    return given_at is not None and external_use and licence != INTERNAL


def to_read(row: Any) -> ConsentRead:
    return ConsentRead(
        developer_id=row.developer_id,
        licence=row.licence,
        consent_given_at=row.consent_given_at,
        external_use=row.external_use,
        updated_by=row.updated_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        external_export=external_export(row.licence, row.consent_given_at, row.external_use),
    )


def trace_licence(row: Any | None) -> tuple[str, TraceConsent | None]:
    """What every trace row carries: the licence it is exported under (the developer's once consent is
    given, else "internal") and their consent (None when none is recorded)."""
    if row is None:
        return INTERNAL, None
    licence = row.licence if row.consent_given_at is not None else INTERNAL
    return licence, TraceConsent(given_at=row.consent_given_at, external_use=row.external_use)
