"""Rich output for `bugtrail status` and `bugtrail finish --wait` (imported only by those two commands)."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bugtrail.sdk.client import Client
from bugtrail.sdk.session import Recorder
from bugtrail.sdk.transport import ApiError, TransportError

STATUS_TEXT = {
    "pending": "waiting to be finalized",
    "queued": "queued for QA",
    "running": "QA running (replaying edits, running tests, judging)",
    "completed": "QA completed",
    "failed": "QA failed",
}


def show_status(recorder: Recorder) -> None:
    console = Console()
    session = recorder.current()
    shown = session or recorder.last_session()
    table = Table(show_header=False, box=None)
    if session is None:
        table.add_row("session", "none active" + (" (last one below)" if shown else ""))
    if shown is not None:
        table.add_row("trace", shown.trace_id)
        table.add_row("bug", shown.bug_description)
        table.add_row("base commit", shown.base_commit or "(none)")
        table.add_row("started", shown.started_at)
    table.add_row("server", f"{recorder.client.config.base_url} (from {recorder.client.config.source})")
    pending = recorder.spool.pending_count()
    table.add_row("queued locally", f"{pending} operation(s)" + ("" if pending else ", all sent"))
    if pending and recorder.spool.last_error():
        table.add_row("last send error", str(recorder.spool.last_error()))
    rejected = recorder.spool.rejected(shown.trace_id if shown else None)
    if rejected:
        table.add_row("rejected by server", f"{len(rejected)}: {rejected[-1][3]}")
    if shown is not None:
        try:
            trace = recorder.client.get_trace(shown.trace_id, timeout=3.0)
            table.add_row("on the server", f"{trace.get('status')}, {trace.get('event_count')} event(s)")
            if trace.get("qa_results"):
                table.add_row("verdict", verdict_line(trace))
            table.add_row("review", review_line(trace))
        except (TransportError, ApiError) as exc:
            table.add_row("on the server", f"unknown ({exc})")
        except Exception as exc:
            table.add_row("on the server", f"unknown ({exc})")
    console.print(table)


def review_line(trace: dict[str, Any]) -> str:
    """The human review decision on the trace, and where to read the feedback."""
    decision = trace.get("review_decision")
    if not decision:
        return "not reviewed yet"
    reviews = [review for review in trace.get("reviews") or [] if review.get("current", True)]
    score = trace.get("human_score")
    text = str(decision).replace("_", " ")
    if score is not None:
        text += f", human score {score}/5"
    return (
        text + f" ({len(reviews)} review(s); `bugtrail reviews {trace.get('trace_id')}` shows the feedback)"
    )


def verdict_line(trace: dict[str, Any]) -> str:
    qa = trace.get("qa_results") or {}
    if qa.get("outcome") == "error" and qa.get("error_kind"):
        # The tests could not run (environment, infrastructure) or the trace is bad input: no verdict.
        return f"{qa['error_kind']} error, no verdict on the fix: {qa.get('error') or 'unknown reason'}"
    parts = [
        f"tests {'passed' if qa.get('tests_passed') else 'failed'}",
        f"resolved: {'yes' if qa.get('resolved') else 'no'}",
    ]
    if qa.get("reasoning_score") is not None:
        parts.append(f"reasoning {qa['reasoning_score']}/5")
    if qa.get("error"):
        parts.append(f"error: {qa['error']}")
    return ", ".join(parts)


def show_qa_progress(client: Client, trace_id: str, timeout: float) -> None:
    console = Console(stderr=False)
    end = time.monotonic() + timeout
    trace: dict[str, Any] = {}
    with console.status("waiting for QA...") as spinner:
        while time.monotonic() < end:
            try:
                trace = client.get_trace(trace_id)
            except (TransportError, ApiError) as exc:
                spinner.update(f"server unreachable ({exc}); retrying...")
                time.sleep(2.0)
                continue
            state = str(trace.get("status"))
            spinner.update(STATUS_TEXT.get(state, state))
            if state in ("completed", "failed"):
                break
            time.sleep(1.0)
    if trace.get("status") not in ("completed", "failed"):
        console.print(f"QA still {trace.get('status', 'unknown')}; check later with `bugtrail status`.")
        raise typer.Exit(0)
    qa = trace.get("qa_results") or {}
    console.print(f"[bold]Verdict[/bold]: {verdict_line(trace)}")
    for key in ("fail_to_pass", "failed_after"):
        if qa.get(key):
            console.print(f"{key}: {', '.join(map(str, qa[key]))}")
    if qa.get("judge_comments"):
        console.print(f"judge: {qa['judge_comments']}")
