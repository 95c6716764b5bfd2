"""Patches as multisets of normalised changed lines: parsing, net change over edits, similarity."""

from bugtrail.qa.patch_lines import MAX_LINES, add_diff, diff_lines, similarity, trace_patch
from tests.support.buggy_repo import CALC, FIXED, NEW_TEST, TESTS, diff
from tests.support.future_repo import EQUIVALENT_FIX, EQUIVALENT_TEST


def test_hunk_counts_decide_what_is_a_header():
    # A removed line that reads like a header ("--- x") is still a removed line; file headers are not lines.
    text = "--- a/f.md\n+++ b/f.md\n@@ -1,2 +1,2 @@\n---- old rule\n+new rule\n keep\n"
    assert list(diff_lines(text)) == [("f.md", "-", "--- old rule"), ("f.md", "+", "new rule")]


def test_later_edits_cancel_earlier_ones_so_the_sum_is_the_net_change():
    trace = trace_patch(
        [
            {"file": "calc.py", "diff": diff("calc.py", CALC, FIXED.replace("a + b", "a + b  # debug"))},
            {"file": "calc.py", "diff": diff("calc.py", FIXED.replace("a + b", "a + b  # debug"), FIXED)},
        ]
    )
    assert trace == trace_patch([{"file": "calc.py", "diff": diff("calc.py", CALC, FIXED)}])
    assert dict(trace) == {("calc.py", "-", "return a - b"): 1, ("calc.py", "+", "return a + b"): 1}


def test_whitespace_alone_does_not_make_two_fixes_different():
    spaced = FIXED.replace("return a + b", "return   a +  b   ")
    same = trace_patch([{"file": "calc.py", "diff": diff("calc.py", CALC, spaced)}])
    assert similarity(same, trace_patch([{"file": "calc.py", "diff": diff("calc.py", CALC, FIXED)}])) == 1.0


def test_an_equivalent_fix_written_differently_is_far_from_the_original():
    original = trace_patch(
        [
            {"file": "tests/test_calc.py", "diff": diff("tests/test_calc.py", TESTS, NEW_TEST)},
            {"file": "calc.py", "diff": diff("calc.py", CALC, FIXED)},
        ]
    )
    rewritten = trace_patch(
        [
            {"file": "tests/test_calc.py", "diff": diff("tests/test_calc.py", TESTS, EQUIVALENT_TEST)},
            {"file": "calc.py", "diff": diff("calc.py", CALC, EQUIVALENT_FIX)},
        ]
    )
    assert similarity(original, original) == 1.0
    assert similarity(original, rewritten) < 0.5  # only the removed buggy line is shared
    assert similarity(original, trace_patch([])) == 0.0


def test_a_huge_hostile_diff_is_bounded():
    lines = "".join(f"+line {i}\n" for i in range(MAX_LINES * 2))
    net = trace_patch([{"file": "x.py", "diff": f"@@ -0,0 +1,{MAX_LINES * 2} @@\n{lines}"}])
    assert net.total() == MAX_LINES
    add_diff(net, "@@ -1 +1 @@\n-a\n+b\n", "x.py")  # full: nothing more is counted
    assert net.total() == MAX_LINES
    assert trace_patch([{"file": 3, "diff": None}, {"diff": "+x"}]).total() == 0  # malformed details ignored
