"""Grading: a pure function of the runner's saved logs (run.json + junit.xml per phase) -> the verdict.

Per-test outcomes come from pytest's junit XML; a phase without one (not pytest, killed, crashed before
writing it) is graded by its exit code as a single pseudo-test named after the command. A test absent from
the "before" run counts as not passing before (a new test that failed to import is the common case).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
_RANK = {PASSED: 0, SKIPPED: 1, FAILED: 2, ERROR: 3}


@dataclass
class PhaseLog:
    exit_code: int | None
    timed_out: bool = False
    command: str = ""
    tests: dict[str, str] | None = None  # test id -> outcome; None when there is no junit


@dataclass
class Verdict:
    tests_passed: bool
    resolved: bool
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    failed_after: list[str] = field(default_factory=list)
    pass_to_fail: list[str] = field(default_factory=list)
    grading_method: str = "junit"  # junit | exit_code
    timed_out: bool = False
    tests_before: int = 0
    tests_after: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_junit(xml_text: str | bytes) -> dict[str, str]:
    """pytest junit XML (xunit1 or xunit2) -> {node id: outcome}; the worst outcome wins for repeated ids."""
    root = ET.fromstring(xml_text)
    outcomes: dict[str, str] = {}
    for case in root.iter("testcase"):
        test_id = _node_id(case.get("classname", ""), case.get("name", ""), case.get("file"))
        outcome = PASSED
        for child in case:
            if child.tag == "failure":
                outcome = _worse(outcome, FAILED)
            elif child.tag == "error":
                outcome = _worse(outcome, ERROR)
            elif child.tag == "skipped":
                outcome = _worse(outcome, SKIPPED)
        outcomes[test_id] = _worse(outcomes.get(test_id, PASSED), outcome)
    return outcomes


def _worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def _node_id(classname: str, name: str, file: str | None) -> str:
    """Rebuild pytest's node id: file::Class::name when the file is known, else classname::name."""
    if file and file.endswith(".py"):
        module = file[:-3].replace("/", ".")
        rest = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        classes = rest.split(".") if rest else []
        return "::".join(part for part in (file, *classes, name) if part)
    return f"{classname}::{name}" if classname else name


def grade(before: PhaseLog, after: PhaseLog) -> Verdict:
    tests_passed = after.exit_code == 0 and not after.timed_out
    use_junit = before.tests is not None and after.tests is not None and bool(after.tests)
    if use_junit:
        before_tests, after_tests = before.tests or {}, after.tests or {}
        method = "junit"
    else:
        pseudo = after.command or before.command or "test command"
        before_tests = {pseudo: PASSED if before.exit_code == 0 and not before.timed_out else FAILED}
        after_tests = {pseudo: PASSED if tests_passed else FAILED}
        method = "exit_code"
        if after.tests:  # only "before" lacks junit (e.g. it hung): keep per-test detail for the after run
            after_tests = dict(after.tests)
            before_tests = {}
            method = "junit-after-only"

    passed_before = {t for t, o in before_tests.items() if o == PASSED}
    passed_after = {t for t, o in after_tests.items() if o == PASSED}
    fail_to_pass = sorted(passed_after - passed_before)
    pass_to_pass = sorted(passed_after & passed_before)
    pass_to_fail = sorted(passed_before - passed_after)
    failed_after = sorted(t for t, o in after_tests.items() if o in (FAILED, ERROR))
    resolved = bool(fail_to_pass) and not pass_to_fail and not after.timed_out
    return Verdict(
        tests_passed=tests_passed,
        resolved=resolved,
        fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass,
        failed_after=failed_after,
        pass_to_fail=pass_to_fail,
        grading_method=method,
        timed_out=before.timed_out or after.timed_out,
        tests_before=len(before_tests),
        tests_after=len(after_tests),
    )


def load_phase(log_dir: Path, run_file: str = "run.json", junit_file: str = "junit.xml") -> PhaseLog:
    """Read one phase's saved logs (the runner's fixed file names)."""
    run = json.loads((log_dir / run_file).read_text())
    tests: dict[str, str] | None = None
    junit = log_dir / junit_file
    if junit.is_file():
        try:
            tests = parse_junit(junit.read_bytes())
        except ET.ParseError:
            tests = None  # a half-written file (killed mid-write) is no evidence
    return PhaseLog(
        exit_code=run.get("exit_code"),
        timed_out=bool(run.get("timed_out")),
        command=str(run.get("command", "")),
        tests=tests,
    )


def grade_logs(run_dir: Path) -> Verdict:
    """Re-grade a finished QA run from its log directory (before/ and after/)."""
    return grade(load_phase(run_dir / "before"), load_phase(run_dir / "after"))
