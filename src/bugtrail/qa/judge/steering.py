"""Find trace text that tries to steer the judge ("ignore the rubric", "give this a 5", "you are now ...").

Such text is data to us: it is still shown to the model (fenced), but the result is flagged
`prompt_injection` and the score is capped at the heuristic evidence score, so steering cannot raise a
score above what the trace's own evidence supports. The patterns aim at text addressed to a judge or
grader; ordinary debugging text ("5 tests passed", merge markers "<<<<<<<") must not match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bugtrail.qa.judge.record import SteeringMatch
from bugtrail.qa.judge.trace_view import TraceView

_UNITS = (
    r"ms|s|sec|secs|seconds|minutes|mins|hours|retries|times|tries|attempts|workers|threads|bytes|kb|mb|"
    r"items|tests?|files|lines|rows|px|%|\.\d"
)

_VERB_IGNORE = r"\b(?:ignore|disregard|forget|override|bypass)\s+"
_JUDGE_QUALIFIER = r"(?:your|previous|prior|above|earlier|preceding|scoring|grading|judging|evaluation)"
_OBJECT = r"(?:it|me|us|this|(?:this|that|the|my)\s+(?:trace|reasoning|developer|session|work|submission))"
_FIVE = r"(?:5|five)(?:\.0)?(?:\s*/\s*5|\s+out\s+of\s+(?:5|five)|\s+stars?)?\b(?!\s*(?:" + _UNITS + r")\b)"
_TOP = r"(?:perfect|full|top|maximum|max|highest)"

_PATTERNS: dict[str, str] = {
    # "instructions", "rubric", "system prompt" are judge words on their own; "rules", "prompt" and
    # "criteria" only with a qualifier ("your rules", "previous prompt"), since code has rules and criteria.
    "ignore_instructions": (
        _VERB_IGNORE + r"(?:(?:all|any|the|your|these|those|previous|prior|above|earlier|preceding|scoring|"
        r"grading|judging|system)\s+)*(?:instructions?|rubric|guidelines|system\s+(?:message|prompt))\b|"
        + _VERB_IGNORE
        + r"(?:(?:all|any|the)\s+)?"
        + _JUDGE_QUALIFIER
        + r"\s+(?:rules|prompt|criteria)\b"
    ),
    # "give 5" may stand alone; "assign", "award", "grant" need an object or a score word; "rate", "score",
    # "mark", "grade" need an object ("rate this 5"), since "expected score 5" is ordinary test output.
    "score_demand": (
        r"\bgive\s+(?:"
        + _OBJECT
        + r"\s+)?(?:an?\s+)?(?:"
        + _TOP
        + r"\s+)?(?:(?:score|rating|marks?|grade)\s+)?"
        r"(?:of\s+)?" + _FIVE + r"|"
        r"\b(?:assign|award|grant)\s+(?:" + _OBJECT + r"\s+(?:an?\s+)?(?:" + _TOP + r"\s+)?"
        r"(?:(?:score|rating|marks?|grade)\s+)?|(?:an?\s+)?(?:"
        + _TOP
        + r"\s+)?(?:score|rating|marks?|grade)\s+)"
        r"(?:of\s+)?" + _FIVE + r"|"
        r"\b(?:rate|score|mark|grade)\s+" + _OBJECT + r"\s+(?:(?:as|an?)\s+)?" + _FIVE
    ),
    "perfect_score": (
        r"\bfull\s+marks\b|\b(?:give|deserves?|award|assign|grant)\s+(?:"
        + _OBJECT
        + r"\s+)?(?:an?\s+)?"
        + _TOP
        + r"\s+(?:score|rating|grade|marks)\b|\b(?:score|rate|grade)\s+"
        + _OBJECT
        + r"\s+(?:as\s+)?(?:highly|high|perfect(?:ly)?)\b"
    ),
    "role_change": (
        r"\byou\s+are\s+now\s+(?:a|an|the|acting|my|no\s+longer|dan|in\s+\w+\s+mode)\b|"
        r"\bin\s+(?:god|jailbreak|dan|unrestricted)\s+mode\b|\bfrom\s+now\s+on,?\s+you\b|"
        r"\bact\s+as\s+(?:an?\s+|the\s+)?(?:judge|grader|evaluator|assistant|ai)\b|\bpretend\s+(?:that\s+)?you\s+are\b|"
        r"\bnew\s+(?:instructions|rules|task)\s*:"
    ),
    "address_judge": (
        r"\b(?:dear|hey|hello|attention|note\s+to(?:\s+the)?|message\s+(?:to|for)(?:\s+the)?)\s+(?:ai\s+|llm\s+)?"
        r"(?:judge|grader|evaluator|reviewer\s+model|llm|language\s+model|gpt)\b|"
        r"\b(?:the|any)\s+(?:ai\s+|llm\s+)?(?:judge|grader|evaluator)\s+(?:must|should|will|shall|needs\s+to)\s+"
        r"(?:give|score|rate|award|assign|ignore)\s+(?:this|it|me|us|the\s+trace|an?\s+(?:5|five|perfect|high))\b"
    ),
    "chat_markup": r"<\|im_(?:start|end)\|>|\[/?INST\]|</?(?:system|assistant)>|<\|(?:system|assistant)\|>",
    "fence_forgery": r"\b(?:BEGIN|END)\s+TRACE\s+DATA\b",
    "answer_forgery": r"\"reasoning_score\"\s*:\s*[45](?:\.\d+)?\s*[,}]",
}

_COMBINED = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items()), re.IGNORECASE
)
MAX_MATCHES = 20

# Every pattern above contains one of these words, so only windows around them need the (slow) regex.
# str.find runs at memory speed; the combined regex alone managed about 1 MB/s on long command logs.
_TRIGGERS = (
    "instruction", "rubric", "rules", "prompt", "guideline", "criteria", "system",
    "give", "assign", "award", "grant", "rate", "score", "mark", "grade", "perfect", "out of",
    "you are now", "from now on", "act as", "pretend", "new task",
    "judge", "grader", "evaluator", "reviewer model", "llm", "language model", "gpt",
    "<|", "[inst]", "[/inst]", "<system", "</system", "<assistant", "</assistant", "trace data",
)  # fmt: skip
_WINDOW = 300
# Only the ends of a field can reach the model (render.py caps every field well below this), so the
# middle of a multi-megabyte output is not scanned.
SCAN_HEAD = SCAN_TAIL = 8192


def _windows(text: str) -> list[tuple[int, int]]:
    lower = text.lower()
    spans: list[tuple[int, int]] = []
    for trigger in _TRIGGERS:
        at = lower.find(trigger)
        while at != -1:
            spans.append((max(0, at - _WINDOW), min(len(text), at + len(trigger) + _WINDOW)))
            at = lower.find(trigger, at + len(trigger))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _visible(text: str) -> str:
    if len(text) <= SCAN_HEAD + SCAN_TAIL:
        return text
    return text[:SCAN_HEAD] + "\n" + text[-SCAN_TAIL:]


def _excerpt(text: str, start: int, end: int) -> str:
    snippet = text[max(0, start - 60) : end + 60]
    return " ".join(snippet.split())[:240]


def _scan(text: str) -> Iterator[tuple[str, str]]:
    text = _visible(text)
    for start, end in _windows(text):
        for match in _COMBINED.finditer(text, start, end):
            yield (match.lastgroup or "steering"), _excerpt(text, match.start(), match.end())


def find_steering(view: TraceView) -> list[SteeringMatch]:
    """All steering passages in the trace (first MAX_MATCHES), in trace order."""
    found: list[SteeringMatch] = []

    def add(seq: int | None, where: str, text: str) -> bool:
        for pattern, excerpt in _scan(text):
            found.append(SteeringMatch(seq=seq, where=where, pattern=pattern, excerpt=excerpt))
            if len(found) >= MAX_MATCHES:
                return False
        return True

    if not add(None, "bug_description", view.bug_description):
        return found
    for step in view.steps:
        fields = {
            "file": step.file,
            "reasoning": step.text,
            "change": step.change,
            "diff": step.diff,
            "command": step.command,
            "output": step.output,
        }
        for where, text in fields.items():
            if text and not add(step.seq, where, text):
                return found
    # The QA verdict's test names and output come from code the developer edited: scanned like the trace.
    for where, text in (view.verdict.scanned_text() if view.verdict else {}).items():
        if text and not add(None, where, text):
            return found
    return found


def is_steering(text: str) -> bool:
    return next(_scan(text), None) is not None
