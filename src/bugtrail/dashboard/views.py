"""Shape data for the templates. Everything stays plain text here: Jinja autoescaping does the escaping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bugtrail.dashboard.repository import HISTOGRAM_BINS, Overview
from bugtrail.db.models import utcnow
from bugtrail.qa.result import QaResult
from bugtrail.wire import TRACE_STATUSES, Curation, TraceRead

MAX_EVENTS_SHOWN = 5000
TEST_LISTS = ("fail_to_pass", "pass_to_pass", "failed_after", "flaky")


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for each line of a unified diff."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append((kind, line))
    return lines


def timeline(trace: TraceRead) -> list[dict[str, Any]]:
    items = []
    for event in trace.events[:MAX_EVENTS_SHOWN]:
        details = event.details
        item: dict[str, Any] = {
            "seq": event.seq,
            "type": event.type,
            "timestamp": event.timestamp.isoformat(),
            "details": details,
            "redactions": getattr(event, "redactions", 0),
        }
        if event.type == "edit":
            item["diff"] = diff_lines(str(details.get("diff", "")))
        items.append(item)
    return items


def chart_data(data: Overview) -> dict[str, Any]:
    """Plain JSON for dashboard.js; embedded with |tojson (which escapes <, >, & and quotes)."""
    statuses = [s for s in TRACE_STATUSES if s in data.per_status] + sorted(
        s for s in data.per_status if s not in TRACE_STATUSES
    )
    return {
        "per_day": {"labels": [d for d, _ in data.per_day], "values": [n for _, n in data.per_day]},
        "per_status": {"labels": statuses, "values": [data.per_status[s] for s in statuses]},
        "per_developer": {
            "labels": [d for d, _ in data.per_developer],
            "values": [n for _, n in data.per_developer],
        },
        "per_repo": {"labels": [r for r, _ in data.per_repo], "values": [n for _, n in data.per_repo]},
        "scores": {
            "labels": [str(b) for b in HISTOGRAM_BINS],
            "values": [data.score_histogram[b] for b in HISTOGRAM_BINS],
        },
    }


def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def age(since: datetime | None) -> str:
    if since is None:
        return "none waiting"
    seconds = max(0, int((utcnow() - since).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def criteria_rows(qa: QaResult | None) -> list[dict[str, Any]]:
    """Judge criteria as rows, whether stored as {name: {score, comment}}, {name: score} or a list."""
    judge = (qa.judge if qa is not None else None) or {}
    criteria = judge.get("criteria") if isinstance(judge, dict) else None
    rows: list[dict[str, Any]] = []
    if isinstance(criteria, dict):
        for name, value in criteria.items():
            if isinstance(value, dict):
                rows.append(
                    {
                        "name": name,
                        "score": value.get("score"),
                        "comment": value.get("comment") or value.get("reason") or value.get("rationale"),
                    }
                )
            else:
                rows.append({"name": name, "score": value, "comment": None})
    elif isinstance(criteria, list):
        for value in criteria:
            if isinstance(value, dict):
                rows.append(
                    {
                        "name": value.get("name") or value.get("criterion"),
                        "score": value.get("score"),
                        "comment": value.get("comment") or value.get("reason") or value.get("rationale"),
                    }
                )
    return rows


def test_list(qa: QaResult | None, key: str) -> list[str]:
    value = getattr(qa, key, None) if qa is not None else None
    if isinstance(value, dict):  # e.g. {"passed": [...], "failed": [...]}
        return [f"{outcome}: {name}" for outcome, names in value.items() for name in (names or [])]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def duration(seconds: float) -> str:
    """2320.0 -> "38 min 40 s"; over an hour in hours and minutes, over two days in days."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 172800:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86400} days"


def curation_facts(curation: Curation | None) -> dict[str, Any] | None:
    """The curation card's values as display text (None: the trace is not finalized yet)."""
    if curation is None:
        return None
    notes = ", ".join(f"{count} {kind}" for kind, count in curation.notes.items() if count) or "none"
    return {
        "time_on_task": duration(curation.time_on_task_s),
        "active": duration(curation.active_time_s),
        "active_gap": duration(curation.active_gap_s),
        "counts": f"{curation.edits} edits, {curation.commands} commands ({curation.failed_commands} failed)",
        "test_runs": f"{curation.test_runs} ({curation.test_runs_failed} failed)",
        "notes": notes,
        "files": f"{curation.files_touched} files, +{curation.lines_added} / -{curation.lines_removed} lines",
        "file_list": curation.files,
        "languages": ", ".join(curation.languages) or "—",
        "binary_edits": curation.binary_edits,
        "out_of_order": curation.out_of_order_events,
    }
