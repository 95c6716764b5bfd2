"""A typed, read-only view of a trace's events that both judges share.

Events arrive as wire.EventRead with `details` as a plain dict (already validated on ingest); this module
reads them leniently so a judge never crashes on an odd but stored event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bugtrail.qa.judge.evidence import VerdictEvidence, verdict_of
from bugtrail.wire import TraceRead

_FAILURE_IN_OUTPUT = re.compile(
    r"Traceback \(most recent call last\)|\bFAILED\b|\b\d+ failed\b|^E\s+\w+Error|\bERROR\b|^error:",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Step:
    index: int  # position in chronological order
    seq: int
    kind: str  # edit | command | reasoning
    event_id: str
    timestamp: str
    # reasoning
    text: str = ""
    reasoning_type: str = ""
    confidence: str | None = None
    refers_to: tuple[str, ...] = ()
    # command
    command: str = ""
    output: str = ""
    exit_code: int | None = None
    # edit
    file: str = ""
    diff: str = ""
    change: str = ""

    @property
    def failed(self) -> bool:
        """A command failed when it exited non-zero; with no exit code, when its output's tail says so."""
        if self.kind != "command":
            return False
        if self.exit_code is not None:
            return self.exit_code != 0
        return bool(_FAILURE_IN_OUTPUT.search(self.output[-4000:]))


@dataclass
class TraceView:
    bug_description: str
    repo_url: str
    steps: list[Step] = field(default_factory=list)
    # What QA found about the fix (qa_results), shown to the judges as reference evidence; None before QA.
    verdict: VerdictEvidence | None = None

    @property
    def notes(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "reasoning"]

    @property
    def edits(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "edit"]

    @property
    def commands(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "command"]

    def first_edit_index(self) -> int | None:
        return next((s.index for s in self.steps if s.kind == "edit"), None)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def view_of(trace: TraceRead) -> TraceView:
    steps: list[Step] = []
    for index, event in enumerate(trace.events):
        d = event.details or {}
        exit_code = d.get("exit_code")
        refers = d.get("refers_to") or []
        steps.append(
            Step(
                index=index,
                seq=event.seq,
                kind=event.type,
                event_id=str(event.event_id),
                timestamp=event.timestamp.isoformat(),
                text=_text(d.get("text")),
                reasoning_type=_text(d.get("reasoning_type")),
                confidence=d.get("confidence") if isinstance(d.get("confidence"), str) else None,
                refers_to=tuple(str(r) for r in refers) if isinstance(refers, list) else (),
                command=_text(d.get("command")),
                output=_text(d.get("output")),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                file=_text(d.get("file")),
                diff=_text(d.get("diff")),
                change=_text(d.get("change")),
            )
        )
    return TraceView(
        bug_description=trace.bug_description,
        repo_url=trace.repo_url,
        steps=steps,
        verdict=verdict_of(trace.qa_results),
    )
