"""Deterministic rubric evidence computed from a trace's events (used by the heuristic judge and as the cap
for traces that try to steer the LLM judge).

Definitions (all documented in the result's `features`):
- substantive note: a reasoning note with >= 5 words, not a stock phrase ("fixed it", "wip", ...), not a
  repeat of an earlier note, at least 40% distinct words, and not text that tries to steer the judge.
- names code: the note mentions a file path, file name, file stem or identifier (def/class/function names,
  called names, snake_case/camelCase names on changed lines) that some edit's diff touches.
- rationale near an edit: a substantive note (not an outcome) within 3 events before the edit, or a
  rationale note within 2 events after it (not crossing another edit), or a note whose refers_to names the
  edit; a substantive `change` summary on the edit counts half.
- failure followed up: a substantive note right after a failing command, before the next command or edit
  (at most 5 notes later), or a note whose refers_to names the command.
- anticipated edit: an earlier substantive note names the edited file or an identifier the edit touches.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from bugtrail.qa.judge.steering import is_steering
from bugtrail.qa.judge.trace_view import Step, TraceView

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_DEF = re.compile(r"\b(?:def|class|function|func|fn)\s+([A-Za-z_][A-Za-z0-9_]*)")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]{2,})\s*\(")
_CODE_NAME = re.compile(r"\b([a-z][a-z0-9]*_[a-z0-9_]+|[a-z]+[A-Z][A-Za-z0-9]+|_[A-Za-z0-9_]{3,})\b")
_HUNK = re.compile(r"^@@[^@]*@@(.*)$", re.MULTILINE)
ALTERNATIVE_LANGUAGE = re.compile(
    r"\b(?:instead|alternatively|rather than|ruled out|rule out|another (?:option|possibility|approach|"
    r"explanation|cause)|could also be|other option|considered|trade-?off|versus)\b",
    re.IGNORECASE,
)
REJECTION_LANGUAGE = re.compile(
    r"\b(?:because|since|ruled out|won't|wouldn't|doesn't|does not|would|but|rejected|not the cause)\b",
    re.IGNORECASE,
)
OUTCOME_LANGUAGE = re.compile(
    r"\b(?:worked|works|failed|fails|passes|passed|pass|didn't|did not|still|confirmed|confirms|disproved|"
    r"wrong|turns out|which means|so the|now)\b",
    re.IGNORECASE,
)
_STOCK = (
    "fix|fixed|fixing|fixed it|fix bug|fix the bug|bug|debugging|debug|trying something|try something|"
    "try again|test|testing|wip|todo|ok|okay|done|hmm|asdf|changes|update|updated|stuff|idk|not sure|"
    "lets see|let s see|works now|it works|still broken|try this|trying this|looking into it|"
    "investigating|checking|thinking|working on it|small fix|minor fix|refactor|cleanup|more changes"
)
STOCK_PHRASES = frozenset(_STOCK.split("|"))
_COMMON_NAMES = (
    "self cls print return len range assert isinstance str int dict list set tuple none true false import "
    "from for while if else elif def class with open super type object append get items keys values "
    "format join split strip lambda yield raise try except finally pass break continue and not the this that"
)
_NOT_IDENTIFIERS = frozenset(_COMMON_NAMES.split())


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def _tokens(text: str) -> set[str]:
    found: set[str] = set()
    for token in _TOKEN.findall(text[:5000]):
        token = token.strip("./-").lower()
        if not token:
            continue
        found.add(token)
        found.update(part for part in re.split(r"[./-]", token) if len(part) >= 3)
    return found


def edit_identifiers(step: Step) -> set[str]:
    """Names an edit touches: its path, file name and stem, and code names on its diff's changed lines."""
    names: set[str] = set()
    path = step.file.lower()
    if path:
        base = path.rsplit("/", 1)[-1]
        names.update({path, base})
        stem = base.rsplit(".", 1)[0]
        if len(stem) >= 3:
            names.add(stem)
    diff = step.diff[:20_000]
    for header in _HUNK.findall(diff):
        names.update(n.lower() for n in _DEF.findall(header))
    changed = "\n".join(
        line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )
    for pattern in (_DEF, _CALL, _CODE_NAME):
        names.update(n.lower() for n in pattern.findall(changed))
    return {n for n in names if n not in _NOT_IDENTIFIERS and len(n) >= 3}


@dataclass
class Features:
    notes: int = 0
    substantive_notes: int = 0
    boilerplate_notes: int = 0
    steering_notes: int = 0
    hypotheses: int = 0
    hypotheses_before_first_edit: int = 0
    specific_hypotheses: int = 0
    hypotheses_with_confidence: int = 0
    alternatives: int = 0
    specific_alternatives: int = 0
    alternatives_with_reason: int = 0
    alternative_language_notes: int = 0
    edits: int = 0
    edits_with_rationale: float = 0.0
    edits_with_specific_rationale: int = 0
    edits_anticipated: int = 0
    commands: int = 0
    failing_commands: int = 0
    failures_followed_up: int = 0
    outcome_notes: int = 0
    outcome_language_notes: int = 0
    observation_notes: int = 0
    outcome_after_last_edit: bool = False
    specific_notes: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("extra")
        return data


def _substantive(step: Step, seen: set[str]) -> tuple[bool, str]:
    """(is substantive, why not) for a reasoning note; records its normalised text in `seen`."""
    norm = _normalised(step.text)
    words = _WORD.findall(step.text)
    if is_steering(step.text):
        return False, "steering"
    if norm in seen:
        return False, "repeat"
    seen.add(norm)
    if not norm or norm in STOCK_PHRASES or len(words) < 5:
        return False, "boilerplate"
    if len({w.lower() for w in words}) / len(words) < 0.4:
        return False, "boilerplate"
    return True, ""


def compute_features(view: TraceView) -> Features:
    f = Features()
    steps = view.steps
    edit_names = {s.index: edit_identifiers(s) for s in steps if s.kind == "edit"}
    all_touched = set().union(*edit_names.values()) if edit_names else set()
    first_edit = view.first_edit_index()
    seen: set[str] = set()
    substantive: dict[int, set[str]] = {}  # note index -> its tokens
    mentioned_so_far: set[str] = set()
    last_edit = max(edit_names) if edit_names else None

    for step in steps:
        if step.kind == "edit":
            f.edits += 1
            if edit_names[step.index] & mentioned_so_far:
                f.edits_anticipated += 1
            continue
        if step.kind == "command":
            f.commands += 1
            f.failing_commands += step.failed
            continue
        f.notes += 1
        ok, why = _substantive(step, seen)
        if not ok:
            f.steering_notes += why == "steering"
            f.boilerplate_notes += why != "steering"
            continue
        tokens = _tokens(step.text)
        substantive[step.index] = tokens
        mentioned_so_far |= tokens
        f.substantive_notes += 1
        names_code = bool(tokens & all_touched)
        f.specific_notes += names_code
        kind = step.reasoning_type
        if kind == "hypothesis":
            f.hypotheses += 1
            f.hypotheses_before_first_edit += first_edit is None or step.index < first_edit
            f.specific_hypotheses += names_code
            f.hypotheses_with_confidence += step.confidence is not None
        elif kind == "alternative":
            f.alternatives += 1
            f.specific_alternatives += names_code
            f.alternatives_with_reason += bool(REJECTION_LANGUAGE.search(step.text))
        elif ALTERNATIVE_LANGUAGE.search(step.text):
            f.alternative_language_notes += 1
        if kind == "outcome":
            f.outcome_notes += 1
        if kind == "observation":
            f.observation_notes += 1
        if kind in ("outcome", "observation") and OUTCOME_LANGUAGE.search(step.text):
            f.outcome_language_notes += 1
        if last_edit is not None and step.index > last_edit and kind in ("outcome", "observation"):
            f.outcome_after_last_edit = True

    _rationale_and_followups(view, f, substantive, edit_names)
    return f


def _rationale_and_followups(
    view: TraceView, f: Features, substantive: dict[int, set[str]], edit_names: dict[int, set[str]]
) -> None:
    steps = view.steps
    referred: dict[str, int] = {}
    for index in substantive:
        for target in steps[index].refers_to:
            referred[target] = referred.get(target, 0) + 1
    for step in steps:
        if step.kind == "edit":
            near: list[Step] = []
            for j in range(step.index - 1, max(-1, step.index - 4), -1):
                if steps[j].kind == "edit":
                    break
                if j in substantive and steps[j].reasoning_type != "outcome":
                    near.append(steps[j])
            for j in range(step.index + 1, min(len(steps), step.index + 3)):
                if steps[j].kind == "edit":
                    break
                if j in substantive and steps[j].reasoning_type == "rationale":
                    near.append(steps[j])
            if near or step.event_id in referred:
                f.edits_with_rationale += 1.0
                if any(substantive[s.index] & edit_names[step.index] for s in near):
                    f.edits_with_specific_rationale += 1
            elif len(_WORD.findall(step.change)) >= 4 and _normalised(step.change) not in STOCK_PHRASES:
                f.edits_with_rationale += 0.5
        elif step.kind == "command" and step.failed:
            followed = step.event_id in referred
            for j in range(step.index + 1, min(len(steps), step.index + 6)):
                if steps[j].kind != "reasoning" or followed:
                    break
                followed = j in substantive
            f.failures_followed_up += followed
