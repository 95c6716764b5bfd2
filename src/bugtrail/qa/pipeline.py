"""Run one QA job end to end: load the trace, replay it in Docker, judge the reasoning, store the result.

Three outcomes stay apart: `completed` (tests ran, or the edits did not apply: a result about the trace),
`skipped` (nothing to run: no base_commit, repo not allowlisted), `error` with an error_kind: the tests
could not run for reasons of the `environment` (build failed, pytest usage error, imports missing in both
runs ...), the `infrastructure` failed after all retries, or the trace is bad `input` (base_commit missing,
edits refused). The judge's verdict is a separate record inside the result. The typed result (qa.result.
QaResult) is built here and only here. The result, the trace's new status and the job's completion are
written in one transaction that first checks this worker still owns the job: exactly one result per job.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import utcnow
from bugtrail.jobs import repository as jobs
from bugtrail.jobs.backoff import retry_delay_s
from bugtrail.qa import environment_adapter as environments
from bugtrail.qa import repository as qa_repo
from bugtrail.qa.duplicates import find_duplicate
from bugtrail.qa.errors import QaInfraError
from bugtrail.qa.judge import get_judge
from bugtrail.qa.replay import ReplayResult, replay_trace
from bugtrail.qa.result import QaResult, RunSummary
from bugtrail.repos.schemas import RepoConfig
from bugtrail.traces import repository as traces
from bugtrail.webhooks import enqueue_event
from bugtrail.wire import TraceRead

log = logging.getLogger("bugtrail.qa")


@dataclass(frozen=True)
class JobTicket:
    """What a worker knows about the job it claimed (detached from any session)."""

    id: int
    trace_id: str
    attempts: int
    max_attempts: int


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease expired); nothing of ours was stored."""


def load_trace_and_config(
    database: Database, settings: Settings, trace_id: str
) -> tuple[TraceRead, RepoConfig | None] | None:
    """The trace and its repository's configuration, read in one read-only scope."""
    with database.scope(read_only=True) as session:
        trace = traces.get_trace(session, trace_id)
        if trace is None:
            return None
        read = traces.to_trace_read(trace, traces.load_events(session, trace_id), None)
        return read, environments.load_repo_config(session, settings, read.repo_url)


def run_qa_job(settings: Settings, database: Database, ticket: JobTicket, worker_id: str) -> str:
    """Process a claimed job. Returns the job's new state: done | failed | queued (retry)."""
    loaded = load_trace_and_config(database, settings, ticket.trace_id)
    trace, repo_config = loaded if loaded else (None, None)
    if trace is None:
        with database.scope() as session:
            jobs.finish_job(session, ticket.id, worker_id, jobs.FAILED, "trace no longer exists")
        return jobs.FAILED

    log_dir = (
        settings.data_dir.resolve() / "qa-logs" / ticket.trace_id / f"job-{ticket.id}-try-{ticket.attempts}"
    )
    if ticket.attempts > ticket.max_attempts:
        # Claimed again after its worker died on every attempt (lease expiries): stop trying.
        replay = _error_replay(
            settings,
            trace,
            repo_config,
            log_dir,
            f"gave up after {ticket.attempts - 1} attempts whose worker stopped responding (lease expired)",
        )
    else:
        try:
            replay = replay_trace(settings, trace, log_dir, worker_id=worker_id, repo_config=repo_config)
        except Exception as exc:  # infrastructure, or a bug: both retried, neither is a test result
            reason = str(exc) if isinstance(exc, QaInfraError) else f"unexpected error: {exc!r}"
            if not isinstance(exc, QaInfraError):
                log.error("QA job %s crashed:\n%s", ticket.id, traceback.format_exc())
            if ticket.attempts < ticket.max_attempts:
                delay = retry_delay_s(settings.job_retry_base_s, settings.job_retry_max_s, ticket.attempts)
                with database.scope() as session:
                    if not jobs.retry_job(session, ticket.id, worker_id, reason, delay):
                        raise LeaseLost(ticket.id) from exc
                    qa_repo.set_trace_status(session, ticket.trace_id, "queued")
                log.warning(
                    "QA job %s attempt %s failed (%s); retry in %.0fs",
                    ticket.id,
                    ticket.attempts,
                    reason,
                    delay,
                )
                return jobs.QUEUED
            replay = _error_replay(settings, trace, repo_config, log_dir, reason)

    duplicate_of = find_duplicate_of(database, settings, trace)
    result = build_result(replay, ticket, judge=None, duplicate_of=duplicate_of)
    judge_record = run_judge(settings, trace, result)
    result = build_result(replay, ticket, judge=judge_record, duplicate_of=duplicate_of)
    return store_result(database, ticket, worker_id, result)


def find_duplicate_of(database: Database, settings: Settings, trace: TraceRead) -> str | None:
    """The earlier trace this one near-duplicates, read in a scope of its own (the comparison reads other
    traces' edits: kept out of the short write transaction that stores the result and sets the link)."""
    try:
        with database.scope(read_only=True) as session:
            return find_duplicate(session, settings, trace)
    except Exception:  # a flag: its failure must not cost the verdict
        log.exception("duplicate check failed for trace %s", trace.trace_id)
        return None


def _error_replay(
    settings: Settings, trace: TraceRead, config: RepoConfig | None, log_dir: Path, reason: str
) -> ReplayResult:
    return ReplayResult(
        outcome="error",
        test_command=environments.test_command_for(settings, trace, config),
        image=environments.default_image(settings, config),
        log_dir=str(log_dir),
        error=reason,
        error_kind="infrastructure",
    )


def run_judge(settings: Settings, trace: TraceRead, result: QaResult) -> dict[str, Any] | None:
    """The judge's record; a judge failure is recorded, not raised."""
    try:
        record = get_judge(settings).judge(trace.model_copy(update={"qa_results": result}))
        return dict(record.model_dump(mode="json"))
    except Exception as exc:  # the verdict on the tests must survive a broken judge
        log.exception("judge failed for trace %s", trace.trace_id)
        return {"error": f"judge failed: {exc!r}", "reasoning_score": None, "judge_comments": None}


def build_result(
    replay: ReplayResult, ticket: JobTicket, judge: dict[str, Any] | None, duplicate_of: str | None = None
) -> QaResult:
    """The one producer of the qa_results document (seed fields first, then the verdict detail)."""
    verdict = replay.verdict
    graded = verdict is not None and verdict.error_kind is None
    judge = judge or {}
    return QaResult(
        outcome=replay.outcome,
        tests_passed=verdict.tests_passed if verdict else None,
        reasoning_score=judge.get("reasoning_score"),
        judge_comments=judge.get("judge_comments"),
        test_output=replay.test_output,
        qa_timestamp=utcnow().replace(tzinfo=UTC).isoformat(),
        resolved=verdict.resolved if verdict else None,
        error_kind=replay.error_kind if replay.outcome == "error" else None,
        error=replay.error,
        exit_code_note=verdict.exit_code_note if verdict else None,
        fail_to_pass=verdict.fail_to_pass if graded and verdict else [],
        pass_to_pass=verdict.pass_to_pass if graded and verdict else [],
        failed_after=verdict.failed_after if graded and verdict else [],
        pass_to_fail=verdict.pass_to_fail if graded and verdict else [],
        flaky=verdict.flaky if verdict else [],
        grading_method=verdict.grading_method if verdict else None,
        timed_out=verdict.timed_out if verdict else False,
        patch_applied=replay.patch_applied,
        patch_exact=replay.patch_exact,
        patch_report=replay.patch_report,
        environment=replay.environment,
        test_command=replay.test_command,
        runner_image=replay.image,
        test_duration_s=replay.test_duration_s,
        tests_wall_s=replay.tests_wall_s,
        setup_s=replay.setup_s,
        before=_run_summary(replay, "before"),
        after=_run_summary(replay, "after"),
        judge=judge or None,
        upstream_match=replay.upstream_match,
        duplicate_of=duplicate_of,
        checkpoints=replay.checkpoints,
        checkpoints_error=replay.checkpoints_error,
        job_id=ticket.id,
        attempt=ticket.attempts,
        log_dir=replay.log_dir,
    )


def _run_summary(replay: ReplayResult, phase: str) -> RunSummary | None:
    run = replay.before if phase == "before" else replay.after
    if run is None:
        return None
    summary = RunSummary(**run.as_dict(), reruns=replay.reruns)
    if phase == "before":
        summary.output_tail = replay.before_output
    return summary


def store_result(database: Database, ticket: JobTicket, worker_id: str, result: QaResult) -> str:
    outcome, document = result.outcome, result.document()
    state = jobs.FAILED if outcome == "error" else jobs.DONE
    try:
        with database.scope() as session:
            if not jobs.finish_job(session, ticket.id, worker_id, state, result.error):
                raise LeaseLost(ticket.id)
            row = qa_repo.add_qa_result(
                session,
                trace_id=ticket.trace_id,
                job_id=ticket.id,
                outcome=outcome,
                document=document,
                qa_timestamp=utcnow(),
            )
            enqueue_event(
                session,
                "qa.failed" if outcome == "error" else "qa.completed",
                {
                    "trace_id": ticket.trace_id,
                    "qa_result_id": row.id,
                    "outcome": outcome,
                    "error_kind": result.error_kind,
                    "tests_passed": result.tests_passed,
                    "resolved": result.resolved,
                    "reasoning_score": result.reasoning_score,
                    "patch_exact": result.patch_exact,
                    "flaky": result.flaky,
                    "upstream_match": result.upstream_match.model_dump() if result.upstream_match else None,
                    "duplicate_of": result.duplicate_of,
                    "error": result.error,
                },
            )
    except IntegrityError as exc:  # a result for this job already exists: someone else finished it
        raise LeaseLost(ticket.id) from exc
    return state
