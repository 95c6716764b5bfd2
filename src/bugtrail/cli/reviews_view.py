"""`bugtrail reviews`: the human reviews of the developer's own traces (decision, scores, feedback).

Recorder side: the SDK's stdlib transport and Rich only, no server dependency. Reviewers are named
"reviewer 1", "reviewer 2" (the server never tells a developer who reviewed them).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bugtrail.sdk.transport import Transport

PAGE = 100
MAX_PAGES = 20  # how far back to look for reviewed traces when none is named


def reviewed_traces(transport: Transport, limit: int) -> list[dict[str, Any]]:
    """The developer's traces that have a review decision, newest first (at most `limit`)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        page = transport.request("GET", "/api/traces", params=params).body
        found.extend(item for item in page.get("items", []) if item.get("review_decision"))
        cursor = page.get("next_cursor")
        if len(found) >= limit or not cursor:
            break
    return found[:limit]


def review_lines(reviews: list[dict[str, Any]]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("reviewer", "decision", "overall", "criteria", "reason / feedback"):
        table.add_column(column)
    for review in reviews:
        criteria = ", ".join(f"{name} {score}" for name, score in (review.get("criteria") or {}).items())
        text = str(review.get("reason") or "")
        if review.get("feedback"):
            text += f"\nfeedback: {review['feedback']}"
        for mark in review.get("event_marks") or []:
            text += (
                f"\nevent {mark.get('event_id')}: {mark.get('label')} {mark.get('comment') or ''}".rstrip()
            )
        status = "" if review.get("current", True) else " (superseded)"
        table.add_row(
            str(review.get("reviewer_label") or review.get("reviewer_id")),
            str(review.get("decision")) + status,
            str(review.get("overall")),
            criteria,
            text,
        )
    return table


def show_reviews(transport: Transport, trace_id: str | None, limit: int) -> int:
    """Print the reviews; returns how many traces with reviews were shown."""
    console = Console()
    if trace_id:
        traces = [transport.request("GET", f"/api/traces/{trace_id}").body]
    else:
        traces = reviewed_traces(transport, limit)
    if not traces:
        console.print("No reviews of your traces yet.")
        return 0
    for trace in traces:
        reviews = transport.request("GET", f"/api/traces/{trace['trace_id']}/reviews").body or []
        decision = trace.get("review_decision") or "not reviewed yet"
        score = trace.get("human_score")
        console.print(
            f"[bold]{trace['trace_id']}[/bold]  {trace.get('bug_description', '')[:80]}\n"
            f"  decision: [bold]{decision}[/bold]" + (f", human score {score}/5" if score is not None else "")
        )
        if reviews:
            console.print(review_lines(reviews))
    return len(traces)
