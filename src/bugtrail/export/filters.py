"""Which traces an export selects; stored verbatim in export_record so a dataset can be reproduced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from bugtrail.consent.schemas import canonical_licence
from bugtrail.qa.result import ERROR_KINDS, QA_OUTCOMES
from bugtrail.wire import REVIEW_DECISIONS, TRACE_STATUSES

# Formats GET /api/export streams; the CLI also writes "hf" (a directory) and sharded Parquet.
ExportFormat = Literal["jsonl", "parquet", "sft", "adp"]
JSONL_FORMATS: tuple[str, ...] = ("jsonl", "sft", "adp")  # one JSON row per line, streamed
ParquetLayout = Literal["trace", "event"]
# external: only traces whose developer consented to use outside the organisation (the default);
# internal: every trace, consented or not, for use inside the organisation (admins only).
ExportUse = Literal["external", "internal"]


class ExportFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use: ExportUse = Field(
        default="external",
        description="external: only traces whose developer consented to external use; internal: all (admin)",
    )
    licence: list[str] | None = Field(
        default=None,
        description='licences rows carry (SPDX ids, or "internal": no consent or internal licence)',
    )
    status: list[str] | None = Field(default=None, description="one or more trace statuses")
    tests_passed: bool | None = None
    resolved: bool | None = None
    outcome: list[str] | None = Field(default=None, description="outcome of the newest QA result")
    error_kind: list[str] | None = Field(default=None, description="environment | infrastructure | input")
    patch_exact: bool | None = Field(default=None, description="every edit applied without fuzz")
    upstream_match: bool | None = Field(
        default=None, description="QA found a later upstream commit near-identical to the final patch"
    )
    duplicate: bool | None = Field(default=None, description="QA linked the trace to an earlier duplicate")
    min_reasoning_score: float | None = None
    max_reasoning_score: float | None = None
    developer_id: str | None = None
    repo_url: str | None = None
    # Human review (docs/review.md): the trace's review summary over its current reviews.
    review_decision: list[str] | None = Field(default=None, description="accept | reject | needs_changes")
    min_human_score: float | None = Field(default=None, description="mean overall of the current reviews")
    created_after: datetime | None = Field(default=None, description="inclusive")
    created_before: datetime | None = Field(default=None, description="exclusive")

    @field_validator("status")
    @classmethod
    def _check_status(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        statuses = sorted({part.strip() for item in value for part in item.split(",") if part.strip()})
        unknown = [status for status in statuses if status not in TRACE_STATUSES]
        if unknown:
            raise ValueError(f"unknown status {unknown}; allowed: {list(TRACE_STATUSES)}")
        return statuses or None

    @field_validator("licence")
    @classmethod
    def _check_licence(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        chosen = sorted(
            {canonical_licence(part) for item in value for part in item.split(",") if part.strip()}
        )
        return chosen or None

    @field_validator("outcome", "error_kind", "review_decision")
    @classmethod
    def _check_choice(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        allowed = {"outcome": QA_OUTCOMES, "error_kind": ERROR_KINDS, "review_decision": REVIEW_DECISIONS}[
            str(info.field_name)
        ]
        chosen = sorted({part.strip() for item in value for part in item.split(",") if part.strip()})
        unknown = [choice for choice in chosen if choice not in allowed]
        if unknown:
            raise ValueError(f"unknown {info.field_name} {unknown}; allowed: {list(allowed)}")
        return chosen or None

    @field_validator("created_after", "created_before")
    @classmethod
    def _to_naive_utc(cls, value: datetime | None) -> datetime | None:
        # Not for SQL (UtcDateTime compares any zone): it keeps one form of a bound in export_record.filters
        # (naive UTC, as recorded before), so the same export asked in two zones is recorded alike.
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def judged_fields(self) -> list[str]:
        """The filters that select on the judge's score or the human reviews (hidden from a blind reader)."""
        names = ("min_reasoning_score", "max_reasoning_score", "review_decision", "min_human_score")
        return [name for name in names if getattr(self, name) is not None]

    def as_record(self) -> dict[str, Any]:
        """The filters that were set, JSON-ready (for export_record.filters); `use` is always recorded."""
        return self.model_dump(mode="json", exclude_none=True)
