"""Curation metadata of a trace (wire.Curation), computed by a pure builder fed events page by page.

Time on task runs from the first to the last event. Active time sums the gaps between consecutive
events, leaving out idle gaps longer than the threshold; the time a command was running (its
duration_ms, since it is stamped when it starts) always counts as active, up to the next event.
Events arrive in the server's order (timestamp, then seq); one whose seq is lower than an event
before it was recorded with a clock that went back, and is counted as out of order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bugtrail.traces.diffstat import MAX_PATH_CHARS, diff_stat
from bugtrail.traces.test_runs import is_test_run
from bugtrail.wire import REASONING_TYPES, Curation

MAX_FILES_LISTED = 100
MAX_FILES_TRACKED = 200_000
DEFAULT_ACTIVE_GAP_S = 300.0

# File extension -> language. Only programming languages: configuration and prose say nothing of one.
LANGUAGES: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".pyx": "Cython",
    ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".jsx": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript",
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala",
    ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++",
    ".cs": "C#", ".fs": "F#", ".rb": "Ruby", ".php": "PHP", ".swift": "Swift", ".m": "Objective-C",
    ".mm": "Objective-C++", ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell", ".hs": "Haskell",
    ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".clj": "Clojure", ".dart": "Dart",
    ".lua": "Lua", ".r": "R", ".jl": "Julia", ".pl": "Perl", ".pm": "Perl", ".zig": "Zig",
    ".ml": "OCaml", ".vue": "Vue", ".svelte": "Svelte", ".sql": "SQL", ".html": "HTML", ".css": "CSS",
    ".scss": "SCSS",
}  # fmt: skip


@dataclass
class CurationEvent:
    """The few fields curation reads from an event (repository rows carry the same names)."""

    seq: int
    event_type: str
    ts_utc: datetime
    file: str | None = None
    diff: str | None = None
    command: str | None = None
    exit_code: Any = None
    duration_ms: Any = None
    reasoning_type: str | None = None


def language_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return LANGUAGES.get(name[dot:]) if dot > 0 else None


def _int(value: Any) -> int | None:
    """A JSON number as stored (int, or text from a JSON path on some databases); junk is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    return None


def _aware(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


class CurationBuilder:
    def __init__(self, test_command: str | None, active_gap_s: float) -> None:
        self.test_command = test_command
        self.active_gap_s = active_gap_s
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.busy_until_s = 0.0  # seconds after `last` that the last command was still running
        self.active_s = 0.0
        self.max_seq: int | None = None
        self.counts = Curation(active_gap_s=active_gap_s, notes=dict.fromkeys(REASONING_TYPES, 0))
        self.files: set[str] = set()
        self.lines_by_language: dict[str, int] = {}

    def add(self, event: Any) -> None:
        ts = _aware(event.ts_utc)
        self._time(ts)
        counts = self.counts
        counts.events += 1
        if self.max_seq is not None and event.seq < self.max_seq:
            counts.out_of_order_events += 1
        self.max_seq = event.seq if self.max_seq is None else max(self.max_seq, event.seq)
        if event.event_type == "edit":
            self._edit(event)
        elif event.event_type == "command":
            self._command(event)
        elif event.event_type == "reasoning":
            kind = event.reasoning_type if isinstance(event.reasoning_type, str) else None
            if kind in counts.notes:
                counts.notes[kind] += 1

    def _time(self, ts: datetime) -> None:
        if self.first is None or self.last is None:
            self.first = self.last = ts
            return
        gap = max(0.0, (ts - self.last).total_seconds())
        busy = min(gap, self.busy_until_s)
        idle = gap - busy
        self.active_s += busy + (idle if idle <= self.active_gap_s else 0.0)
        self.last = max(self.last, ts)
        self.busy_until_s = 0.0

    def _edit(self, event: Any) -> None:
        self.counts.edits += 1
        stat = diff_stat(event.diff) if isinstance(event.diff, str) else None
        paths = set(stat.paths) if stat is not None else set()
        if isinstance(event.file, str) and 0 < len(event.file) <= MAX_PATH_CHARS:
            paths.add(event.file)
        if len(self.files) < MAX_FILES_TRACKED:  # bounded memory; past it files_touched is a lower bound
            self.files.update(paths)
        if stat is None:
            return
        self.counts.lines_added += stat.added
        self.counts.lines_removed += stat.removed
        self.counts.binary_edits += int(stat.binary)
        languages = {language for path in paths if (language := language_of(path)) is not None}
        for language in languages:
            # Lines shared between the files' languages; a file with no lines still names its language.
            weight = (stat.added + stat.removed) // len(languages) + 1
            self.lines_by_language[language] = self.lines_by_language.get(language, 0) + weight

    def _command(self, event: Any) -> None:
        counts = self.counts
        counts.commands += 1
        exit_code = _int(event.exit_code)
        duration_ms = _int(event.duration_ms)
        if duration_ms is not None and duration_ms > 0:
            self.busy_until_s = duration_ms / 1000
        if exit_code not in (None, 0):
            counts.failed_commands += 1
        if isinstance(event.command, str) and is_test_run(event.command, self.test_command):
            counts.test_runs += 1
            if exit_code not in (None, 0):
                counts.test_runs_failed += 1

    def result(self) -> Curation:
        counts = self.counts.model_copy()
        counts.started_at, counts.ended_at = self.first, self.last
        if self.first is not None and self.last is not None:
            counts.time_on_task_s = round((self.last - self.first).total_seconds(), 3)
        counts.active_time_s = round(self.active_s, 3)
        counts.files_touched = len(self.files)
        counts.files = sorted(self.files)[:MAX_FILES_LISTED]
        counts.lines_touched = counts.lines_added + counts.lines_removed
        ranked = sorted(self.lines_by_language.items(), key=lambda item: (-item[1], item[0]))
        counts.languages = [language for language, _ in ranked]
        return counts


def compute_curation(
    pages: Iterable[Iterable[Any]], test_command: str | None, active_gap_s: float
) -> Curation:
    """Curation of events given in order, page by page (memory is one page, whatever the trace holds)."""
    builder = CurationBuilder(test_command, active_gap_s)
    for page in pages:
        for event in page:
            builder.add(event)
    return builder.result()
