"""Render a trace as fenced, escaped data that fits a token budget, and say what was trimmed.

Escaping: every line of text that came from the developer or their tools is prefixed with "| ", and
control characters are removed, so trace text can never produce a line of ours (event headers, trim
markers, the fence). The fence carries a random 128-bit nonce the trace cannot know in advance.

Budget: every event starts at level 0 (long caps) and is degraded, oldest first, pass by pass, until the
estimated size fits: command outputs shrink to head+tail, then diffs, then commands and diffs lose their
bodies, then successful commands are omitted, then reasoning notes are shortened, and last anything is
omitted. Runs of omitted events become one summary line ("#a-#b: 40 events omitted: ..."). Reasoning is
degraded last because it is what is being judged. The session's first events (10% of the budget) and last
events (20%) are degraded only after everything between them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from bugtrail.qa.judge.evidence import OUTPUT_TAIL_CHARS, VerdictEvidence
from bugtrail.qa.judge.tokens import estimate_tokens
from bugtrail.qa.judge.trace_view import Step, TraceView

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Every break str.splitlines() knows (a model may read U+2028 or NEL as a new line).
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
OMITTED = 3
SUMMARY_TOKENS = 60  # upper bound for one summary line (230 chars and a newline)
BUG_DESCRIPTION_CAP = 3000

# (reasoning text cap, command output (head, tail), diff (head, tail)) per level; level 2 drops bodies.
_REASONING_CAP = {0: 4000, 1: 1000, 2: 240}
_OUTPUT_CAP = {0: (1500, 2500), 1: (300, 900)}
_DIFF_CAP = {0: (4000, 2000), 1: (900, 300)}


def new_fence() -> str:
    return secrets.token_hex(16)


def quote(text: str) -> str:
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", text))
    return "\n".join("| " + line for line in text.split("\n"))


def inline(text: str) -> str:
    """Text for one of our own header lines: no control characters, no line breaks."""
    return _CONTROL.sub("", " ".join(text.split()))


def head_tail(text: str, head: int, tail: int) -> tuple[str, int, int, str]:
    """(head, chars cut, lines cut, tail); lines are cut whole where possible."""
    if len(text) <= head + tail + 200:
        return text, 0, 0, ""
    start = text[:head]
    cut = start.rfind("\n")
    if cut > head // 2:
        start = start[: cut + 1]
    end = text[-tail:]
    cut = end.find("\n")
    if 0 <= cut < tail // 2:
        end = end[cut + 1 :]
    middle = len(text) - len(start) - len(end)
    return start, middle, text.count("\n", len(start), len(text) - len(end)), end


@dataclass
class Rendered:
    text: str
    trimmed: dict[str, object] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def _body(text: str, head: int, tail: int, what: str, cut_counter: list[int]) -> str:
    start, cut_chars, cut_lines, end = head_tail(text, head, tail)
    if not cut_chars:
        return quote(text)
    cut_counter[0] += cut_chars
    marker = f"[trimmed: {cut_chars} chars ({cut_lines} lines) from the middle of this {what}]"
    return f"{quote(start.rstrip(chr(10)))}\n{marker}\n{quote(end)}"


def render_step(step: Step, level: int, seq_of: Callable[[str], str], cut: list[int]) -> str:
    if step.kind == "reasoning":
        extra = f" confidence={inline(step.confidence)[:20]}" if step.confidence else ""
        if step.refers_to:
            extra += " refers_to=" + ",".join(seq_of(r) for r in step.refers_to[:10])
        head = f"#{step.seq} {step.timestamp} reasoning/{inline(step.reasoning_type)[:20] or 'note'}{extra}"
        cap = _REASONING_CAP[level]
        return f"{head}\n{_body(step.text, cap * 3 // 4, cap // 4, 'note', cut)}"
    if step.kind == "command":
        status = "exit=?" if step.exit_code is None else f"exit={step.exit_code}"
        status += " FAILED" if step.failed else ""
        command = step.command if len(step.command) <= 500 else step.command[:500] + " [...]"
        text = f"#{step.seq} {step.timestamp} command {status}\n{quote('$ ' + command)}"
        if level >= 2:
            if step.output:
                cut[0] += len(step.output)
                text += f"\n[output omitted: {len(step.output)} chars]"
            return text
        if step.output:
            keep_head, keep_tail = _OUTPUT_CAP[level]
            text += "\n" + _body(step.output, keep_head, keep_tail, "output", cut)
        return text
    text = f"#{step.seq} {step.timestamp} edit file={inline(step.file)[:200]}"
    if step.change:
        text += "\n" + quote("change: " + step.change[:600])
    if level >= 2:
        if step.diff:
            cut[0] += len(step.diff)
            text += f"\n[diff omitted: {len(step.diff)} chars, {step.diff.count(chr(10))} lines]"
        return text
    keep_head, keep_tail = _DIFF_CAP[level]
    return text + "\n" + _body(step.diff, keep_head, keep_tail, "diff", cut)


def _summary(run: list[Step]) -> str:
    commands = [s for s in run if s.kind == "command"]
    edits = [s for s in run if s.kind == "edit"]
    notes = len(run) - len(commands) - len(edits)
    files = sorted({s.file for s in edits})
    names = ", ".join(inline(f)[-40:] for f in files[:2]) + (f" +{len(files) - 2}" if len(files) > 2 else "")
    failed = sum(s.failed for s in commands)
    text = (
        f"[#{run[0].seq}-#{run[-1].seq}: {len(run)} events omitted to fit the budget: "
        f"{len(commands)} commands ({failed} failed), {len(edits)} edits"
        + (f" ({names})" if names else "")
        + f", {notes} reasoning notes]"
    )
    return text[:230]


# (kind, only failed?/only succeeded?, target level), applied in order, oldest events first.
_PASSES: list[tuple[str, bool | None, int]] = [
    ("command", False, 1),
    ("command", True, 1),
    ("edit", None, 1),
    ("command", False, 2),
    ("edit", None, 2),
    ("command", True, 2),
    ("command", False, OMITTED),
    ("reasoning", None, 1),
    ("edit", None, OMITTED),
    ("command", True, OMITTED),
    ("reasoning", None, 2),
    ("reasoning", None, OMITTED),
]


HEAD_SHARE, TAIL_SHARE = 0.10, 0.20  # budget kept for the session's start and end before the middle goes


def _protected_ends(costs: list[int], budget: int) -> tuple[int, int]:
    """(head_end, tail_start): the first and last events that fit in their share of the budget at level 0."""
    head_end, used = 0, 0
    while head_end < len(costs) and used + costs[head_end] <= budget * HEAD_SHARE:
        used += costs[head_end]
        head_end += 1
    tail_start, used = len(costs), 0
    while tail_start > head_end and used + costs[tail_start - 1] <= budget * TAIL_SHARE:
        tail_start -= 1
        used += costs[tail_start]
    return head_end, tail_start


def render_trace(view: TraceView, budget_tokens: int) -> Rendered:
    """The events as text within `budget_tokens` (estimated), plus counts of what was trimmed.

    The start of the session (first hypotheses) and its end (the final fix and test run) are protected:
    every pass first degrades only the events between them, and touches the ends only if that was not
    enough.
    """
    steps = view.steps
    seq_by_id = {s.event_id: s.seq for s in steps}

    def seq_of(event_id: str) -> str:
        return f"#{seq_by_id[event_id]}" if event_id in seq_by_id else "(unknown event)"

    levels = [0] * len(steps)
    scratch = [0]
    costs = [estimate_tokens(render_step(step, 0, seq_of, scratch)) + 1 for step in steps]
    total = sum(costs)
    head_end, tail_start = _protected_ends(costs, budget_tokens)

    def omitted(i: int) -> bool:
        return 0 <= i < len(steps) and levels[i] == OMITTED

    for span in (range(head_end, tail_start), range(len(steps))):
        for kind, failed, target in _PASSES:
            if total <= budget_tokens:
                break
            for i in span:
                if total <= budget_tokens:
                    break
                step = steps[i]
                if step.kind != kind or levels[i] >= target or (failed is not None and step.failed != failed):
                    continue
                if target == OMITTED:
                    total += SUMMARY_TOKENS * (1 - omitted(i - 1) - omitted(i + 1)) - costs[i]
                    costs[i] = 0
                else:
                    cost = estimate_tokens(render_step(step, target, seq_of, scratch)) + 1
                    total += cost - costs[i]
                    costs[i] = cost
                levels[i] = target

    return _assemble(steps, levels, seq_of, budget_tokens)


def _assemble(steps: list[Step], levels: list[int], seq_of: Callable[[str], str], budget: int) -> Rendered:
    cut = [0]
    lines: list[str] = []
    run: list[Step] = []
    for step, level in zip(steps, levels, strict=True):
        if level == OMITTED:
            run.append(step)
            continue
        if run:
            lines.append(_summary(run))
            run = []
        # Rendered again (cheap: bodies are capped) to count the characters cut at the final level.
        lines.append(render_step(step, level, seq_of, cut))
    if run:
        lines.append(_summary(run))

    def count(kind: str, low: int, high: int = OMITTED) -> int:
        return sum(1 for s, lv in zip(steps, levels, strict=True) if s.kind == kind and low <= lv <= high)

    trimmed: dict[str, object] = {
        "budget_tokens": budget,
        "events_total": len(steps),
        "events_omitted": sum(1 for lv in levels if lv == OMITTED),
        "events_shortened": sum(1 for lv in levels if 0 < lv < OMITTED),
        "reasoning_shortened": sum(
            1
            for s, lv in zip(steps, levels, strict=True)
            if s.kind == "reasoning" and lv < OMITTED and len(s.text) > _REASONING_CAP[lv] + 200
        ),
        "reasoning_omitted": count("reasoning", OMITTED),
        "commands_without_output": count("command", 2, 2),
        "commands_omitted": count("command", OMITTED),
        "diffs_shortened": count("edit", 1, 1),
        "diffs_dropped": count("edit", 2, 2),
        "edits_omitted": count("edit", OMITTED),
        "chars_cut_from_shown_events": cut[0],
        "chars_omitted_events": sum(
            len(s.text) + len(s.output) + len(s.diff) + len(s.command)
            for s, lv in zip(steps, levels, strict=True)
            if lv == OMITTED
        ),
    }
    return Rendered(text="\n".join(lines), trimmed=trimmed)


def trimming_note(trimmed: dict[str, object]) -> str:
    """One sentence for the prompt saying what was cut, so the model does not read cuts as missing work."""
    t = trimmed
    parts = []
    if t.get("chars_cut_from_shown_events"):
        parts.append(
            f"long outputs, diffs and notes were cut to head and tail ({t['chars_cut_from_shown_events']} "
            "chars, each cut marked [trimmed: ...] or [... omitted ...])"
        )
    if t.get("events_omitted"):
        parts.append(
            f"{t['events_omitted']} of {t['events_total']} events, oldest and least important first, are "
            "summarised in [#a-#b: ... omitted] lines"
        )
    if t.get("reasoning_shortened") or t.get("reasoning_omitted"):
        parts.append(
            f"{t.get('reasoning_shortened', 0)} reasoning notes were shortened and "
            f"{t.get('reasoning_omitted', 0)} omitted"
        )
    else:
        parts.append("every reasoning note is shown in full")
    return f"Trimming (budget {t['budget_tokens']} tokens): " + "; ".join(parts) + "."


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _list(label: str, names: tuple[str, ...], full: int) -> list[str]:
    if not full:
        return [f"QA {label}: none"]
    more = f" (first {len(names)} shown)" if full > len(names) else ""
    return [f"QA {label} ({full}){more}:", quote("\n".join(names))]


def render_verdict(verdict: VerdictEvidence) -> str:
    """The verdict block for the prompt: our own lines all start with "QA ", repository text is quoted."""
    totals = verdict.totals
    lines = [
        "QA VERDICT (bugtrail replayed the edits and ran the tests; reference evidence, not the developer's "
        "words):",
        f"QA outcome: {verdict.outcome}" + (f" ({verdict.error_kind} error)" if verdict.error_kind else ""),
        f"QA edits applied: {_yes_no(verdict.patch_applied)}; exactly: {_yes_no(verdict.patch_exact)}",
        f"QA tests passed after the edits: {_yes_no(verdict.tests_passed)}; "
        f"fix held (fail-to-pass tests now pass): {_yes_no(verdict.fix_held)}",
    ]
    lines += _list("fail-to-pass tests", verdict.fail_to_pass, totals["fail_to_pass"])
    lines += _list("failing after the edits", verdict.failed_after, totals["failed_after"])
    lines += _list("passed before, fail after", verdict.pass_to_fail, totals["pass_to_fail"])
    if verdict.flaky:
        lines += _list("flaky", verdict.flaky, totals["flaky"])
    if verdict.output_tail.strip():
        note = f", {verdict.output_redactions} secrets redacted" if verdict.output_redactions else ""
        lines.append(f"QA test output after the edits (last {OUTPUT_TAIL_CHARS} chars at most{note}):")
        lines.append(quote(verdict.output_tail))
    return "\n".join(lines)
