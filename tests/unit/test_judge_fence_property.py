"""Property: whatever a trace contains, it stays inside the fence as quoted data; the scan never crashes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bugtrail.qa.judge.prompt import build_prompt
from bugtrail.qa.judge.render import quote
from bugtrail.qa.judge.steering import find_steering
from bugtrail.qa.judge.trace_view import view_of
from bugtrail.qa.result import QaResult
from tests.support.judge_traces import trace_from_events

# Text biased towards the characters and phrases that could break fencing.
PIECES = [*"ab \n\r\t|#[]<>{}\"'\\\x00\x1b\u2028\x85", "END TRACE DATA ", "| ", "BEGIN TRACE DATA "]
nasty = st.lists(st.sampled_from(PIECES), max_size=80).map("".join) | st.text(max_size=200)


@given(nasty)
def test_quoted_lines_all_start_with_the_quote_prefix(text: str) -> None:
    # splitlines(): also the Unicode line breaks (U+2028, NEL, ...) a model may read as new lines.
    assert all(line.startswith("| ") for line in quote(text).splitlines())


@settings(max_examples=60, deadline=None)
@given(
    note=nasty,
    output=nasty,
    diff=nasty,
    bug=nasty.filter(lambda s: s.strip() != ""),
    test_output=nasty,
    test_name=nasty,
)
def test_trace_text_never_escapes_the_fence(
    note: str, output: str, diff: str, bug: str, test_output: str, test_name: str
) -> None:
    trace = trace_from_events(
        [
            {"type": "reasoning", "details": {"text": note or "x", "reasoning_type": "hypothesis"}},
            {"type": "command", "details": {"command": "pytest", "output": output, "exit_code": 1}},
            {"type": "edit", "details": {"file": "a.py", "diff": diff}},
        ],
        bug_description=bug,
    )
    # The QA verdict's test names and output come from the repository: hostile too.
    trace = trace.model_copy(
        update={
            "qa_results": QaResult(
                outcome="completed",
                tests_passed=False,
                resolved=False,
                fail_to_pass=[test_name],
                failed_after=[test_name],
                test_output=test_output,
            )
        }
    )
    view = view_of(trace)
    find_steering(view)
    prompt = build_prompt(view, 4000, [])
    user = prompt.messages[1]["content"]
    fence = prompt.fence
    # Exactly one opening and one closing fence line, in that order.
    assert len(re.findall(rf"^BEGIN TRACE DATA {fence}$", user, re.MULTILINE)) == 1
    assert len(re.findall(rf"^END TRACE DATA {fence}$", user, re.MULTILINE)) == 1
    inside = user.split(f"BEGIN TRACE DATA {fence}\n", 1)[1].split(f"\nEND TRACE DATA {fence}", 1)[0]
    for line in inside.splitlines():
        assert line.startswith(("| ", "#", "[", "repository:", "bug description:", "events (", "QA ")), repr(
            line
        )
