"""Both judges see the QA verdict as reference evidence; the heuristic checks the trace's claim of a fix."""

from __future__ import annotations

from bugtrail.qa.judge import HeuristicJudge
from bugtrail.qa.judge.evidence import OUTPUT_TAIL_CHARS, verdict_of
from bugtrail.qa.judge.heuristic import claims_fix
from bugtrail.qa.judge.trace_view import view_of
from bugtrail.qa.result import QaResult
from tests.support.judge_traces import load_trace

TEST = "tests/test_pricing.py::test_mixed_case_duplicate_applied_once"


def verdict(held: bool, output: str = "1 failed") -> QaResult:
    return QaResult(
        outcome="completed",
        tests_passed=held,
        resolved=held,
        fail_to_pass=[TEST],
        failed_after=[] if held else [TEST],
        test_output=output,
    )


def test_a_claimed_fix_is_checked_against_the_tests() -> None:
    _, trace = load_trace("09_careful.json")  # ends "All 25 tests pass ... the fix in apply_discount worked"
    assert claims_fix(view_of(trace))
    alone = HeuristicJudge().judge(trace)
    held = HeuristicJudge().judge(trace.model_copy(update={"qa_results": verdict(True)}))
    broken = HeuristicJudge().judge(trace.model_copy(update={"qa_results": verdict(False)}))
    assert alone.heuristic_version == held.heuristic_version == "heuristic-v2"
    unrounded = [r.features["criteria_unrounded"]["consistency"] for r in (alone, held, broken)]  # type: ignore[index]
    assert unrounded[2] == max(1.0, unrounded[0] - 1.5)
    assert unrounded[1] == min(5.0, unrounded[0] + 0.5)
    assert broken.reasoning_score is not None and alone.reasoning_score is not None
    assert broken.reasoning_score < alone.reasoning_score
    assert "tests contradict" in broken.judge_comments and "the fix did not hold" in broken.judge_comments
    assert broken.features["verdict"] == {"fix_held": False, "claims_fix": True, "consistency_change": -1.5}  # type: ignore[index]
    assert alone.features["verdict"] is None  # type: ignore[index]


def test_no_claim_no_change_and_ungraded_verdicts_are_ignored() -> None:
    _, trace = load_trace("06_specific_hypothesis.json")
    view = view_of(trace)
    base = HeuristicJudge().judge(trace).features["criteria_unrounded"]  # type: ignore[index]
    if not claims_fix(view):
        with_verdict = HeuristicJudge().judge(trace.model_copy(update={"qa_results": verdict(False)}))
        assert with_verdict.features["criteria_unrounded"] == base  # type: ignore[index]
    errored = QaResult(outcome="error", error_kind="environment", error="build failed")
    record = HeuristicJudge().judge(trace.model_copy(update={"qa_results": errored}))
    assert record.features["criteria_unrounded"] == base  # type: ignore[index]
    assert "QA gave no verdict on the fix (outcome error, environment error)" in record.judge_comments


def test_the_output_tail_is_capped_and_redacted() -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    output = "x" * 10_000 + f"\nFAILED {TEST}\naws_access_key_id = {secret}\n"
    evidence = verdict_of(verdict(False, output))
    assert evidence is not None
    assert len(evidence.output_tail) <= OUTPUT_TAIL_CHARS
    assert secret not in evidence.output_tail and evidence.output_redactions >= 1
    assert evidence.fix_held is False and evidence.totals["failed_after"] == 1
    assert verdict_of(None) is None
    assert verdict_of(QaResult(outcome="judged_only")) is None
