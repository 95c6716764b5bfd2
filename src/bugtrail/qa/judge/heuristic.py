"""The offline judge: the rubric's criteria scored from deterministic features (see features.py).

It is a heuristic, not an LLM: it counts evidence (hypotheses before the first edit, alternatives,
confidence, follow-up after failures, rationale near edits, notes naming the code the diffs touch) and
cannot judge whether the reasoning is *right*. Its result says so in `flags` and `judge_comments`.

Scoring (each criterion starts at 1, is capped at 5 and rounded half up for the integer criteria):
- hypothesis_quality: +1 any hypothesis, +1 one before the first edit, +1 one names code the diffs touch,
  +0.5 confidence given, +0.5 two or more hypotheses.
- alternatives_considered: +1.5 an alternative note, +0.5 two or more, +1 one names code, +0.5 one says
  why it was rejected, +0.5 other notes weigh options ("instead", "ruled out", ...).
- change_rationale: +3 x share of edits with rationale near them, +1 x share whose rationale names the
  edited code (no edits: +1 if any rationale/plan note).
- learning_from_failures: with failing commands, +3 x share followed up by a note, +1 an outcome note
  says what worked or failed; without failures, +1.5 an outcome note, +1 an observation, +0.5 outcome
  language (at most 4: nothing failed, so little learning can be shown).
- consistency: +3 x share of edits anticipated by earlier notes, +1 an outcome/observation after the last
  edit (no edits: +1 when there are substantive notes and commands).
QA verdict as reference (when QA graded the fix): the trace's last outcome/observation note "claims a fix"
when one of its clauses says fixed/works/passes/resolved without a negation in that clause. A claim the
tests contradict (the fix did not hold) costs consistency 1.5; a claim they confirm adds 0.5.
reasoning_score = mean of the unrounded criteria - 1.0 x share of notes that are boilerplate or steering,
clamped to 1.0-5.0, rounded to 2 decimals.
"""

from __future__ import annotations

import re

from bugtrail.qa.judge.evidence import summary
from bugtrail.qa.judge.features import Features, compute_features
from bugtrail.qa.judge.no_reasoning import has_reasoning, no_reasoning_record
from bugtrail.qa.judge.record import (
    CRITERIA,
    FLAG_HEURISTIC,
    FLAG_PROMPT_INJECTION,
    JudgeRecord,
    SteeringMatch,
)
from bugtrail.qa.judge.rubric import RUBRIC_VERSION
from bugtrail.qa.judge.steering import find_steering
from bugtrail.qa.judge.trace_view import TraceView, view_of
from bugtrail.wire import TraceRead

HEURISTIC_VERSION = "heuristic-v2"  # v2: the QA verdict checks the trace's claim of a fix
CONTRADICTED_CLAIM = -1.5
CONFIRMED_CLAIM = 0.5
_CLAIMS_FIX = re.compile(
    r"\b(?:fixed|fixes\s+it|works|worked|working\s+now|pass|passes|passed|resolved|solved|green)\b",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r"[.;,:!?\n]+")
_NEGATION = re.compile(
    r"\b(?:not|still|never|no\s+longer|fails?|failed|failing|broken)\b|n't\b", re.IGNORECASE
)


def _clamp(value: float, low: float = 1.0, high: float = 5.0) -> float:
    return max(low, min(high, value))


def _round_half_up(value: float) -> int:
    return int(value + 0.5)


def criterion_scores(f: Features) -> dict[str, float]:
    hyp = 1.0 + (f.hypotheses >= 1) + (f.hypotheses_before_first_edit >= 1) + (f.specific_hypotheses >= 1)
    hyp += 0.5 * (f.hypotheses_with_confidence >= 1) + 0.5 * (f.hypotheses >= 2)

    alt = 1.0 + 1.5 * (f.alternatives >= 1) + 0.5 * (f.alternatives >= 2) + (f.specific_alternatives >= 1)
    alt += 0.5 * (f.alternatives_with_reason >= 1) + 0.5 * (f.alternative_language_notes >= 1)

    if f.edits:
        rationale = 1.0 + 3.0 * f.edits_with_rationale / f.edits + f.edits_with_specific_rationale / f.edits
    else:
        rationale = 1.0 + (f.substantive_notes > f.hypotheses + f.alternatives)

    if f.failing_commands:
        learning = 1.0 + 3.0 * f.failures_followed_up / f.failing_commands
        learning += 1.0 * (f.outcome_language_notes >= 1)
    else:
        learning = 1.0 + 1.5 * (f.outcome_notes >= 1) + (f.observation_notes >= 1)
        learning += 0.5 * (f.outcome_language_notes >= 1)

    if f.substantive_notes == 0:
        consistency = 1.0
    elif f.edits:
        consistency = 1.0 + 3.0 * f.edits_anticipated / f.edits + 1.0 * f.outcome_after_last_edit
    else:
        consistency = 1.0 + (f.commands >= 1)

    raw = {
        "hypothesis_quality": hyp,
        "alternatives_considered": alt,
        "change_rationale": rationale,
        "learning_from_failures": learning,
        "consistency": consistency,
    }
    return {name: _clamp(value) for name, value in raw.items()}


def evidence_score(f: Features, criteria: dict[str, float]) -> float:
    weak = f.boilerplate_notes + f.steering_notes
    penalty = weak / f.notes if f.notes else 0.0
    return round(_clamp(sum(criteria.values()) / len(criteria) - penalty), 2)


def _comments(f: Features, score: float) -> str:
    parts = [
        "Heuristic rubric judge (deterministic feature counts, not an LLM; it cannot tell whether the "
        f"reasoning is correct). Score {score:.2f}.",
        f"{f.substantive_notes} of {f.notes} reasoning notes are substantive"
        + (f" ({f.boilerplate_notes} boilerplate or repeated)" if f.boilerplate_notes else "")
        + (f" ({f.steering_notes} try to steer the judge and were ignored)" if f.steering_notes else "")
        + ".",
        f"{f.hypotheses} hypotheses ({f.hypotheses_before_first_edit} before the first edit, "
        f"{f.specific_hypotheses} naming code the diffs touch); {f.alternatives} alternatives.",
    ]
    if f.edits:
        parts.append(
            f"{f.edits_with_rationale:g} of {f.edits} edits have rationale nearby; "
            f"{f.edits_anticipated} were anticipated by earlier notes."
        )
    if f.failing_commands:
        parts.append(f"{f.failures_followed_up} of {f.failing_commands} failing commands were followed up.")
    return " ".join(parts)


def claims_fix(view: TraceView) -> bool:
    """Whether the trace's last outcome or observation note says the bug is fixed (and does not negate it)."""
    closing = [s for s in view.notes if s.reasoning_type in ("outcome", "observation") and s.text.strip()]
    if not closing:
        return False
    clauses = _CLAUSES.split(closing[-1].text[:2000])
    return any(_CLAIMS_FIX.search(c) and not _NEGATION.search(c) for c in clauses)


def verdict_adjustment(view: TraceView) -> tuple[float, dict[str, object]]:
    """(change to consistency, what was found) from the QA verdict; (0, {}) without a graded verdict."""
    if view.verdict is None or view.verdict.fix_held is None:
        return 0.0, {}
    claimed = claims_fix(view)
    held = view.verdict.fix_held
    change = 0.0 if not claimed else (CONFIRMED_CLAIM if held else CONTRADICTED_CLAIM)
    return change, {"fix_held": held, "claims_fix": claimed, "consistency_change": change}


def _verdict_comment(view: TraceView, found: dict[str, object]) -> str:
    if view.verdict is None:
        return ""
    text = " " + summary(view.verdict)
    if found.get("claims_fix"):
        text += (
            " The trace's last outcome note claims a fix, which the tests confirm."
            if found["fix_held"]
            else " The trace's last outcome note claims a fix, which the tests contradict "
            "(consistency lowered)."
        )
    return text


def judge_view(view: TraceView, steering: list[SteeringMatch] | None = None) -> JudgeRecord:
    """The heuristic record; `steering` may be passed in when the caller has already scanned the trace."""
    f = compute_features(view)
    raw = criterion_scores(f)
    change, verdict_found = verdict_adjustment(view)
    raw["consistency"] = _clamp(raw["consistency"] + change)
    score = evidence_score(f, raw)
    steering = find_steering(view) if steering is None else steering
    flags = [FLAG_HEURISTIC] + ([FLAG_PROMPT_INJECTION] if steering else [])
    return JudgeRecord(
        judge="heuristic",
        model=None,
        rubric_version=RUBRIC_VERSION,
        heuristic_version=HEURISTIC_VERSION,
        criteria={name: _round_half_up(raw[name]) for name in CRITERIA},
        reasoning_score=score,
        evidence_score=score,
        judge_comments=_comments(f, score) + _verdict_comment(view, verdict_found),
        flags=flags,
        steering=steering,
        features=f.as_dict()
        | {"criteria_unrounded": {k: round(v, 3) for k, v in raw.items()}, "verdict": verdict_found or None},
    )


class HeuristicJudge:
    name = "heuristic"

    def judge(self, trace: TraceRead) -> JudgeRecord:
        view = view_of(trace)
        if not has_reasoning(view):
            return no_reasoning_record("heuristic", view)
        return judge_view(view)
