"""The QA verdict as reference evidence for both judges (reference-guided judging).

What QA established about the fix (did the edits apply, did the fail-to-pass tests pass, did anything
break, the tail of the after run's test output) is shown to the judges beside the trace, so a note that
claims "fixed, tests pass" can be checked against what the tests really did. Facts we computed (outcome,
booleans, counts) are our own lines; test names and output come from the repository and are untrusted
data: capped, redacted (traces.redaction), quoted like trace text and scanned for steering.
"""

from __future__ import annotations

from dataclasses import dataclass

from bugtrail.qa.result import QaResult
from bugtrail.traces.redaction import redact_text

OUTPUT_TAIL_CHARS = 1500
TEST_NAMES_SHOWN = 15
TEST_NAME_CHARS = 200


@dataclass(frozen=True)
class VerdictEvidence:
    outcome: str
    error_kind: str | None
    patch_applied: bool | None
    patch_exact: bool | None
    tests_passed: bool | None
    resolved: bool | None
    fail_to_pass: tuple[str, ...]
    failed_after: tuple[str, ...]
    pass_to_fail: tuple[str, ...]
    flaky: tuple[str, ...]
    output_tail: str
    output_redactions: int
    totals: dict[str, int]  # full list lengths before capping (fail_to_pass, failed_after, pass_to_fail)

    @property
    def graded(self) -> bool:
        """Tests ran and were graded: the verdict says something about the fix."""
        return self.outcome == "completed" and self.error_kind is None and self.tests_passed is not None

    @property
    def fix_held(self) -> bool | None:
        """Resolved when QA knows fail-to-pass tests; else whether the tests passed after the edits."""
        if not self.graded:
            return None
        return self.resolved if self.resolved is not None else self.tests_passed

    def scanned_text(self) -> dict[str, str]:
        """The untrusted parts, for the steering scan."""
        names = "\n".join((*self.fail_to_pass, *self.failed_after, *self.pass_to_fail, *self.flaky))
        return {"qa_test_names": names, "qa_output": self.output_tail}


def _names(values: list[str]) -> tuple[str, ...]:
    return tuple(v[:TEST_NAME_CHARS] for v in values[:TEST_NAMES_SHOWN])


def verdict_of(result: QaResult | None) -> VerdictEvidence | None:
    """The evidence in a QA result; None when there is none (no QA yet, or a judged-only result)."""
    if result is None or result.outcome not in ("completed", "error", "skipped"):
        return None
    # Redact a wider window, then cut: a secret straddling the cut is redacted before half of it is shown.
    tail, redactions = redact_text((result.test_output or "")[-2 * OUTPUT_TAIL_CHARS :])
    tail = tail[-OUTPUT_TAIL_CHARS:]
    return VerdictEvidence(
        outcome=result.outcome,
        error_kind=result.error_kind,
        patch_applied=result.patch_applied,
        patch_exact=result.patch_exact,
        tests_passed=result.tests_passed,
        resolved=result.resolved,
        fail_to_pass=_names(result.fail_to_pass),
        failed_after=_names(result.failed_after),
        pass_to_fail=_names(result.pass_to_fail),
        flaky=_names(result.flaky),
        output_tail=tail,
        output_redactions=redactions,
        totals={
            "fail_to_pass": len(result.fail_to_pass),
            "failed_after": len(result.failed_after),
            "pass_to_fail": len(result.pass_to_fail),
            "flaky": len(result.flaky),
        },
    )


def summary(verdict: VerdictEvidence) -> str:
    """One sentence (our words) for judge comments."""
    if not verdict.graded:
        kind = f", {verdict.error_kind} error" if verdict.error_kind else ""
        return f"QA gave no verdict on the fix (outcome {verdict.outcome}{kind})."
    held = "held" if verdict.fix_held else "did not hold"
    return (
        f"QA verdict: the fix {held} ({verdict.totals['fail_to_pass']} fail-to-pass tests, "
        f"{verdict.totals['failed_after']} failing after the edits, {verdict.totals['pass_to_fail']} broken)."
    )
