"""All tables. Tables are singular snake_case; timestamps are `*_at` columns of type UtcDateTime."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# Autoincrement BIGINT on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC in Python and naive UTC in the database.

    SQLite has no time zones and `timestamp without time zone` on PostgreSQL returns naive values; this type
    gives every reader aware UTC datetimes on both, and takes aware values (any zone, converted) or naive
    ones (taken as UTC) when writing or comparing. The stored representation is unchanged (no migration).
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware UTC (what UtcDateTime columns return)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Trace(Base):
    __tablename__ = "trace"

    trace_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    developer_id: Mapped[str] = mapped_column(String(200), index=True)
    repo_url: Mapped[str] = mapped_column(String(2000))
    bug_description: Mapped[str] = mapped_column(Text)
    base_commit: Mapped[str | None] = mapped_column(String(40))
    test_command: Mapped[str | None] = mapped_column(Text)
    # The developer's Python environment as the recorder captured it (wire.RecordedEnvironment), or null.
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # sha256 of the create payload's header fields: an identical re-create is a no-op, a different one 409.
    content_hash: Mapped[str] = mapped_column(String(64))
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Denormalised from the newest qa_result so lists and exports filter without a join.
    tests_passed: Mapped[bool | None] = mapped_column(Boolean)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    reasoning_score: Mapped[float | None] = mapped_column(Float)
    latest_qa_result_id: Mapped[int | None] = mapped_column(BigId)
    # Curation metadata computed when the trace is finalized (time on task, active time, counts, languages).
    curation: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Authenticity and leakage flags, denormalised for export filters: the near-identical later upstream
    # commit QA found (qa_results.upstream_match), and the earlier trace this one near-duplicates.
    upstream_commit: Mapped[str | None] = mapped_column(String(40))
    duplicate_of: Mapped[str | None] = mapped_column(String(36), index=True)
    # Human review: how many independent reviews this trace gets (1, or 2 for the overlap share; fixed when
    # first handed out), and the current reviews' summary (latest review per reviewer) for filters.
    reviews_required: Mapped[int | None] = mapped_column(Integer)
    review_decision: Mapped[str | None] = mapped_column(String(16))
    human_score: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_trace_created_at_trace_id", "created_at", "trace_id"),)


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(ForeignKey("trace.trace_id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(16))
    # The timestamp as sent (with its offset) and its UTC value for ordering.
    event_timestamp: Mapped[str] = mapped_column(String(64))
    ts_utc: Mapped[datetime] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    redactions: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("trace_id", "event_id", name="uq_event_trace_event_id"),
        UniqueConstraint("trace_id", "seq", name="uq_event_trace_seq"),
        Index("ix_event_trace_order", "trace_id", "ts_utc", "seq"),
    )


class Job(Base):
    """Durable queue row for every kind of background work: queued -> running -> done | failed."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A task kind registered by its domain ("qa.run", "webhook.deliver", ...).
    kind: Mapped[str] = mapped_column(String(32), default="qa.run")
    # The trace the job is about, when it is about one (QA runs); a deleted trace takes its jobs with it.
    trace_id: Mapped[str | None] = mapped_column(ForeignKey("trace.trace_id", ondelete="CASCADE"), index=True)
    # Jobs sharing a key (e.g. one webhook receiver) are limited in how many run at once.
    concurrency_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_job_claim", "state", "run_after"),
        Index("ix_job_running_key", "state", "concurrency_key"),
    )


class QaResult(Base):
    """One QA run of a trace; history is kept, the trace points at the newest."""

    __tablename__ = "qa_result"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(ForeignKey("trace.trace_id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(BigId)
    # completed (tests ran), skipped (nothing to run: no base_commit ...), error (infrastructure failed)
    outcome: Mapped[str] = mapped_column(String(16))
    tests_passed: Mapped[bool | None] = mapped_column(Boolean)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    reasoning_score: Mapped[float | None] = mapped_column(Float)
    judge_comments: Mapped[str | None] = mapped_column(Text)
    test_output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    qa_timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The full qa_results document as served (verdict, test lists, patch report, judge record).
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (UniqueConstraint("job_id", name="uq_qa_result_job"),)


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    # sha256 of the whole key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    developer_id: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DashboardSession(Base):
    """A dashboard login: the cookie holds a random token, the table its sha256 (revocable, expiring)."""

    __tablename__ = "dashboard_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Webhook(Base):
    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    # A record of the job queue's attempts (the "webhook.deliver" job drives the retries).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_webhook_delivery_due", "state", "next_attempt_at"),)


class ExportRecord(Base):
    """What an export contained, so a dataset can be reproduced and verified."""

    __tablename__ = "export_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType)
    trace_count: Mapped[int | None] = mapped_column(Integer)
    byte_count: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RepoConfigRow(Base):
    """An admin's QA configuration for the repositories under one URL prefix (repos.schemas.RepoConfig)."""

    __tablename__ = "repo_configs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url_prefix: Mapped[str] = mapped_column(String(2000), unique=True)
    install_commands: Mapped[list[str]] = mapped_column(JSONType)
    python_version: Mapped[str | None] = mapped_column(String(16))
    test_command: Mapped[str | None] = mapped_column(Text)
    test_file_patterns: Mapped[list[str]] = mapped_column(JSONType)
    image: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Review(Base):
    """One submitted human review: immutable; a reviewer's later review of a trace supersedes theirs."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(ForeignKey("trace.trace_id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[str] = mapped_column(String(200))
    # The judge's five criteria, each an integer 1-5, plus an overall 1.0-5.0.
    criteria: Mapped[dict[str, int]] = mapped_column(JSONType)
    overall: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))  # accept | reject | needs_changes
    reason: Mapped[str] = mapped_column(Text)
    feedback: Mapped[str | None] = mapped_column(Text)
    # Marks on individual events: [{"event_id", "label", "comment"}].
    event_marks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    rubric_version: Mapped[str] = mapped_column(String(64))
    # The same reviewer's previous review of this trace, which this one supersedes (both are kept).
    supersedes_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_review_trace_reviewer", "trace_id", "reviewer_id"),
        Index("ix_review_reviewer_created", "reviewer_id", "created_at"),
    )


class ReviewLease(Base):
    """A trace handed to a reviewer by the queue, held until it expires or they submit."""

    __tablename__ = "review_lease"

    trace_id: Mapped[str] = mapped_column(ForeignKey("trace.trace_id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JudgeCalibration(Base):
    """A fitted monotone map from one judge's scores to the human scale, versioned; one active per judge."""

    __tablename__ = "judge_calibration"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer)
    judge: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    rubric_version: Mapped[str] = mapped_column(String(64))
    # Per criterion and "overall": the fitted points ({"x": [...], "y": [...]}), interpolated between.
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sample_count: Mapped[int] = mapped_column(Integer)
    # Figures from the fit (mean absolute error before/after on held-back reviews, ...).
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("judge", "version", name="uq_judge_calibration_version"),)


class DeveloperConsent(Base):
    """A developer's licence and consent for their traces (set by an admin)."""

    __tablename__ = "developer_consent"

    developer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    licence: Mapped[str] = mapped_column(String(64))  # an SPDX id such as CC-BY-4.0, or "internal"
    consent_given_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Whether the traces may leave the organisation (exports for external use).
    external_use: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
