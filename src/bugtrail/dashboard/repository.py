"""All dashboard SQL: aggregates over traces, QA results and the job queue; login sessions (portable SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import ApiKey, DashboardSession, Job, QaResult, Trace, utcnow
from bugtrail.qa.tasks import QA_RUN

TOP_N = 12
HISTOGRAM_BINS = (1, 2, 3, 4, 5)


@dataclass
class Overview:
    total_traces: int = 0
    per_day: list[tuple[str, int]] = field(default_factory=list)
    per_status: dict[str, int] = field(default_factory=dict)
    per_developer: list[tuple[str, int]] = field(default_factory=list)
    per_repo: list[tuple[str, int]] = field(default_factory=list)
    qa_with_result: int = 0
    qa_passed: int = 0
    qa_resolved_known: int = 0
    qa_resolved: int = 0
    score_histogram: dict[int, int] = field(default_factory=dict)
    queue_length: int = 0
    oldest_queued_at: datetime | None = None
    recent_failures: list[dict[str, Any]] = field(default_factory=list)
    recent_traces: list[Any] = field(default_factory=list)


def overview(session: Session, days: int = 90) -> Overview:
    data = Overview()
    data.total_traces = int(session.scalar(select(func.count()).select_from(Trace)) or 0)
    since = utcnow() - timedelta(days=days)
    # date() exists on both SQLite (returns text) and PostgreSQL (returns a date).
    day = func.date(Trace.created_at)
    rows = session.execute(
        select(day, func.count()).where(Trace.created_at >= since).group_by(day).order_by(day)
    )
    data.per_day = [(str(d), int(n)) for d, n in rows]
    data.per_status = {
        s: int(n) for s, n in session.execute(select(Trace.status, func.count()).group_by(Trace.status))
    }
    data.per_developer = _top(session, Trace.developer_id)
    data.per_repo = _top(session, Trace.repo_url)

    passed = func.sum(case((Trace.tests_passed.is_(True), 1), else_=0))
    resolved = func.sum(case((Trace.resolved.is_(True), 1), else_=0))
    row = session.execute(
        select(func.count(Trace.tests_passed), passed, func.count(Trace.resolved), resolved)
    ).one()
    data.qa_with_result, data.qa_passed = int(row[0] or 0), int(row[1] or 0)
    data.qa_resolved_known, data.qa_resolved = int(row[2] or 0), int(row[3] or 0)

    # Scores are 1-5 floats; bin to the nearest whole score with a portable CASE (no floor/round quirks).
    score = Trace.reasoning_score
    bin_expr = case((score < 1.5, 1), (score < 2.5, 2), (score < 3.5, 3), (score < 4.5, 4), else_=5)
    counts: dict[int, int] = dict(
        session.execute(select(bin_expr, func.count()).where(score.is_not(None)).group_by(bin_expr)).all()
    )
    data.score_histogram = {b: int(counts.get(b, 0)) for b in HISTOGRAM_BINS}

    # The QA queue: webhook deliveries share the job table but are not QA waiting time.
    queued = session.execute(
        select(func.count(), func.min(Job.created_at)).where(Job.state == "queued", Job.kind == QA_RUN)
    ).one()
    data.queue_length, data.oldest_queued_at = int(queued[0] or 0), queued[1]
    data.recent_failures = recent_failures(session)
    data.recent_traces = recent_traces(session)
    return data


def recent_traces(session: Session, limit: int = 20) -> list[Any]:
    columns = (
        Trace.trace_id,
        Trace.developer_id,
        Trace.repo_url,
        Trace.status,
        Trace.event_count,
        Trace.created_at,
        Trace.tests_passed,
        Trace.resolved,
        Trace.reasoning_score,
        QaResult.outcome.label("qa_outcome"),
        QaResult.result["error_kind"].as_string().label("error_kind"),
        QaResult.error.label("qa_error"),
    )
    query = (
        select(*columns)
        .outerjoin(QaResult, QaResult.id == Trace.latest_qa_result_id)
        .order_by(Trace.created_at.desc(), Trace.trace_id.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def _top(session: Session, column: Any) -> list[tuple[str, int]]:
    count = func.count().label("n")
    rows = session.execute(select(column, count).group_by(column).order_by(count.desc(), column).limit(TOP_N))
    return [(str(value), int(n)) for value, n in rows]


def recent_failures(session: Session, limit: int = 15) -> list[dict[str, Any]]:
    """Newest QA results that did not pass (infrastructure error, failing tests, unresolved), failed jobs."""
    rows = session.execute(
        select(QaResult, Trace.developer_id, Trace.repo_url)
        .join(Trace, Trace.trace_id == QaResult.trace_id)
        .where(
            or_(
                QaResult.outcome != "completed",
                QaResult.tests_passed.is_(False),
                QaResult.resolved.is_(False),
            )
        )
        .order_by(QaResult.qa_timestamp.desc(), QaResult.id.desc())
        .limit(limit)
    )
    failures: list[dict[str, Any]] = [
        {
            "trace_id": qa.trace_id,
            "developer_id": developer,
            "repo_url": repo,
            "at": qa.qa_timestamp,
            "kind": failure_kind(qa),
            "reason": failure_reason(qa),
            # The reason is the judge's comment: hidden from a reviewer who has not reviewed the trace.
            "judge_reason": bool(qa.judge_comments) and failure_reason(qa) == qa.judge_comments,
        }
        for qa, developer, repo in rows
    ]
    jobs = session.execute(
        select(Job, Trace.developer_id, Trace.repo_url)
        .join(Trace, Trace.trace_id == Job.trace_id)
        .where(Job.state == "failed")
        .order_by(Job.finished_at.desc(), Job.id.desc())
        .limit(limit)
    )
    failures += [
        {
            "trace_id": job.trace_id,
            "developer_id": developer,
            "repo_url": repo,
            "at": job.finished_at or job.created_at,
            "kind": "job failed",
            "reason": job.last_error or "job failed",
        }
        for job, developer, repo in jobs
    ]
    failures.sort(key=lambda item: item["at"] or datetime.min, reverse=True)
    return failures[:limit]


def failure_kind(qa: QaResult) -> str:
    """`error (environment)`: the tests could not run, which is not a failed fix."""
    error_kind = (qa.result or {}).get("error_kind")
    return f"{qa.outcome} ({error_kind})" if qa.outcome == "error" and error_kind else qa.outcome


def failure_reason(qa: QaResult) -> str:
    result = qa.result or {}
    if qa.error or result.get("error"):
        return str(qa.error or result.get("error"))
    failed = result.get("failed_after") or []
    if failed:
        shown = ", ".join(str(test) for test in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        return f"tests failing after the fix: {shown}{more}"
    if result.get("patch_applied") is False:
        return "the edits did not apply at base_commit"
    if qa.resolved is False:
        return "tests pass but the fail-to-pass tests were not fixed"
    return qa.judge_comments or qa.outcome


# -- dashboard sessions (the cookie holds a random token; only its sha256 is stored) ---------------------
def add_session(session: Session, id_hash: str, key_id: int, expires_at: datetime) -> None:
    session.add(DashboardSession(id_hash=id_hash, key_id=key_id, expires_at=expires_at))
    session.flush()


def live_session_key(session: Session, id_hash: str, now: datetime) -> ApiKey | None:
    """The key behind a session that is unexpired, not logged out, and whose key is not revoked."""
    return session.scalar(
        select(ApiKey)
        .join(DashboardSession, DashboardSession.key_id == ApiKey.id)
        .where(
            DashboardSession.id_hash == id_hash,
            DashboardSession.revoked_at.is_(None),
            DashboardSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
        )
    )


def revoke_session(session: Session, id_hash: str, now: datetime) -> bool:
    result = session.execute(
        update(DashboardSession)
        .where(DashboardSession.id_hash == id_hash, DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
    session.flush()
