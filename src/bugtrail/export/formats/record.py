"""Reading the exported trace record: the prompt, the verdict, scores, licence and per-step labels.

Pure functions over the GET /api/traces/{id} document as JSON. Keys other domains add (`reviews`,
`licence`, `consent`, `curation`, `qa_results.checkpoints`, ...) are read with .get: a record without them
exports with nulls, and a malformed entry is skipped rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["note", "command", "edit"]


@dataclass(frozen=True)
class Step:
    """One event, reduced to what a trajectory needs."""

    kind: StepKind
    event_id: str
    seq: int
    timestamp: str | None
    details: Mapping[str, Any]


@dataclass
class EventTally:
    """Collected while the events stream past (nothing else about them is kept)."""

    secret_flags: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: {"note": 0, "command": 0, "edit": 0})


_KINDS: dict[str, StepKind] = {"reasoning": "note", "command": "command", "edit": "edit"}


def steps(events: Iterable[Mapping[str, Any]], tally: EventTally) -> Iterator[Step]:
    for event in events:
        kind = _KINDS.get(str(event.get("type")))
        details = event.get("details")
        if kind is None or not isinstance(details, Mapping):
            continue  # not an event type a trajectory has (the wire format has exactly these three)
        tally.counts[kind] += 1
        flags = details.get("secret_flags")
        if isinstance(flags, list):
            tally.secret_flags.update(str(flag) for flag in flags)
        yield Step(
            kind,
            str(event.get("event_id") or ""),
            _int(event.get("seq")),
            opt_str(event.get("timestamp")),
            details,
        )


def prompt(record: Mapping[str, Any]) -> str:
    """The user turn: the bug, where it lives and how it is tested."""
    lines = [str(record.get("bug_description") or "").strip(), "", f"Repository: {record.get('repo_url')}"]
    if record.get("base_commit"):
        lines.append(f"Base commit: {record['base_commit']}")
    if record.get("test_command"):
        lines.append(f"Test command: {record['test_command']}")
    return "\n".join(lines)


def note_text(details: Mapping[str, Any]) -> str:
    """A reasoning note as the developer wrote it, labelled with its type (and confidence when given)."""
    kind = str(details.get("reasoning_type") or "note").capitalize()
    confidence = details.get("confidence")
    label = f"{kind} ({confidence} confidence)" if confidence else kind
    return f"{label}: {details.get('text') or ''}"


def qa(record: Mapping[str, Any]) -> Mapping[str, Any]:
    document = record.get("qa_results")
    return document if isinstance(document, Mapping) else {}


def verdict(record: Mapping[str, Any]) -> dict[str, Any]:
    document = qa(record)
    return {
        "tests_passed": _bool(record.get("tests_passed")),
        "resolved": _bool(record.get("resolved")),
        "outcome": opt_str(document.get("outcome")),
        "error_kind": opt_str(document.get("error_kind")),
    }


def judge(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The judge's scores: criteria as {name: score} (older documents stored {name: {score, comment}})."""
    document = qa(record)
    stored = document.get("judge")
    if not isinstance(stored, Mapping) and document.get("reasoning_score") is None:
        return None
    stored = stored if isinstance(stored, Mapping) else {}
    criteria: dict[str, float] = {}
    raw = stored.get("criteria")
    for name, value in raw.items() if isinstance(raw, Mapping) else ():
        score = value.get("score") if isinstance(value, Mapping) else value
        if isinstance(score, int | float) and not isinstance(score, bool):
            criteria[str(name)] = float(score)
    flags = stored.get("flags")
    return {
        "judge": opt_str(stored.get("judge")),
        "model": opt_str(stored.get("model")),
        "rubric_version": opt_str(stored.get("rubric_version")),
        "reasoning_score": _first_float(record.get("reasoning_score"), document.get("reasoning_score")),
        "criteria": criteria,
        "flags": [str(flag) for flag in flags] if isinstance(flags, list) else [],
        "comments": opt_str(document.get("judge_comments")),
    }


def labels(record: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a row says about a trace besides its steps: verdict, scores, reviews, licence, flags."""
    scores = judge(record)
    return {
        **verdict(record),
        "reasoning_score": scores["reasoning_score"] if scores else None,
        "judge": scores,
        "reviews": reviews(record),
        "review_decision": opt_str(record.get("review_decision")),
        "human_score": opt_float(record.get("human_score")),
        "licence": opt_str(record.get("licence")),
        "consent": consent(record),
        "curation": mapping(record, "curation"),
        "upstream_commit": upstream_commit(record),
        "upstream_match": upstream_match(record),
        "duplicate_of": opt_str(record.get("duplicate_of")),
    }


def reviews(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    value = record.get("reviews")
    return [dict(item) for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def consent(record: Mapping[str, Any]) -> dict[str, Any] | None:
    value = record.get("consent")
    if not isinstance(value, Mapping):
        return None
    return {"given_at": opt_str(value.get("given_at")), "external_use": _bool(value.get("external_use"))}


def upstream_match(record: Mapping[str, Any]) -> dict[str, Any] | None:
    value = qa(record).get("upstream_match")
    if not isinstance(value, Mapping):
        return None
    return {"commit": opt_str(value.get("commit")), "similarity": opt_float(value.get("similarity"))}


def upstream_commit(record: Mapping[str, Any]) -> str | None:
    found = opt_str(record.get("upstream_commit"))
    if found is None and (match := upstream_match(record)) is not None:
        return match["commit"]
    return found


def mapping(record: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = record.get(key)
    return dict(value) if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class Checkpoint:
    """The tests at one recorded run of the test command (QA replayed the edits made before it)."""

    event_id: str
    seq: int
    passed: int
    failed: int
    fail_to_pass_done: bool | None  # None: the trace has no fail-to-pass tests to be done

    @property
    def reward(self) -> float | None:
        """1.0 once every fail-to-pass test passes at this step, else 0.0 (the per-step process label);
        None when there are no fail-to-pass tests to measure the step by."""
        if self.fail_to_pass_done is None:
            return None
        return 1.0 if self.fail_to_pass_done else 0.0


def step_reward(checkpoint: Checkpoint, call_id: str | None) -> dict[str, Any]:
    return {
        "event_id": checkpoint.event_id,
        "seq": checkpoint.seq,
        "tool_call_id": call_id,
        "passed": checkpoint.passed,
        "failed": checkpoint.failed,
        "fail_to_pass_done": checkpoint.fail_to_pass_done,
        "reward": checkpoint.reward,
    }


def checkpoints(record: Mapping[str, Any]) -> dict[str, Checkpoint]:
    """By event_id. `passed`/`failed` may be lists of test ids or counts; both become counts."""
    value = qa(record).get("checkpoints")
    found: dict[str, Checkpoint] = {}
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, Mapping) or not item.get("event_id"):
            continue
        found[str(item["event_id"])] = Checkpoint(
            event_id=str(item["event_id"]),
            seq=_int(item.get("seq")),
            passed=_count(item.get("passed")),
            failed=_count(item.get("failed")),
            fail_to_pass_done=_bool(item.get("fail_to_pass_done")),
        )
    return found


def _first_float(*values: Any) -> float | None:
    return next((found for value in values if (found := opt_float(value)) is not None), None)


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    return _int(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def opt_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
