"""Commands that are not pytest: unittest's own output (real runs of `python -m unittest`) and scripts.

A unittest run gives per-test ids when verbose; without -v it names only its failures, which are graded
per test when both runs completed (a test no longer listed after passed). A test module that fails to
import is a collection error as with pytest, so the same environment rules apply; any command failing in
both runs on the same missing module is an environment error, never a failed fix.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bugtrail.qa.grading import (
    ENVIRONMENT,
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    grade_logs,
    parse_short_summary,
    parse_unittest_failures,
    parse_unittest_output,
)

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TESTS = '''import unittest

from calc import add


class TestAdd(unittest.TestCase):
    def test_add(self):
        """Adding two numbers."""
        self.assertEqual(add(2, 3), 5)

    def test_zero(self):
        self.assertEqual(add(0, 0), 0)

    @unittest.skip("not today")
    def test_skipped(self):
        pass
'''
NEEDS_MISSING = "import bugtrail_no_such_module_xyz\n\n\ndef test_x():\n    pass\n"


def run(tree: Path, command: list[str], log_dir: Path) -> None:
    """Run `command` in `tree` for real and save its logs the way the runner does."""
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=60)
    log_dir.mkdir(parents=True)
    record = {"exit_code": done.returncode, "command": " ".join(command), "timed_out": False}
    (log_dir / "run.json").write_text(json.dumps(record))
    (log_dir / "test_output.txt").write_text(done.stdout + done.stderr)


def project(tree: Path, calc: str, extra: dict[str, str] | None = None) -> Path:
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "calc.py").write_text(calc)
    (tree / "test_calc.py").write_text(TESTS)
    for name, text in (extra or {}).items():
        (tree / name).write_text(text)
    return tree


def test_verbose_unittest_fix_is_graded_per_test(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "unittest", "-v", "test_calc"]
    run(project(tmp_path / "before", BUGGY), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.error_kind is None and verdict.resolved is True and verdict.tests_passed is True
    assert verdict.fail_to_pass == ["test_calc.TestAdd.test_add"]
    assert verdict.pass_to_pass == ["test_calc.TestAdd.test_zero"]


OTHER_TESTS = """import unittest

from calc import add


class TestOther(unittest.TestCase):
    def test_adding_zero(self):
        self.assertEqual(add(-1, 0), -1)

    def test_known_bug(self):
        raise RuntimeError("fails before and after")
"""


def test_quiet_unittest_fix_is_graded_per_failing_test(tmp_path: Path) -> None:
    # more-itertools' own command is `python -m unittest tests.test_more`: only failures are named.
    command = [sys.executable, "-m", "unittest", "test_calc"]
    run(project(tmp_path / "before", BUGGY), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.error_kind is None and verdict.resolved is True and verdict.tests_passed is True
    assert verdict.grading_method == "unittest-failures"
    assert verdict.fail_to_pass == ["test_calc.TestAdd.test_add"]
    assert verdict.pass_to_fail == [] and verdict.failed_after == []


def test_quiet_unittest_keeps_a_failure_of_both_runs_apart_from_the_fix(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "unittest", "test_calc", "test_other"]
    extra = {"test_other.py": OTHER_TESTS}
    run(project(tmp_path / "before", BUGGY, extra), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.resolved is True and verdict.tests_passed is False
    assert verdict.fail_to_pass == ["test_calc.TestAdd.test_add"]
    assert verdict.failed_after == ["test_other.TestOther.test_known_bug"]


def test_quiet_unittest_names_what_a_fix_breaks(tmp_path: Path) -> None:
    # add() "fixed" for non-negative numbers only: test_adding_zero passed before and fails after.
    half_fixed = "def add(a, b):\n    return a + b if a >= 0 else 0\n"
    no_known_bug = OTHER_TESTS.replace("raise RuntimeError", "return None  #")
    command = [sys.executable, "-m", "unittest", "test_calc", "test_other"]
    extra = {"test_other.py": no_known_bug}
    run(project(tmp_path / "before", BUGGY, extra), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", half_fixed, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.resolved is False and verdict.grading_method == "unittest-failures"
    assert verdict.fail_to_pass == ["test_calc.TestAdd.test_add"]
    assert verdict.pass_to_fail == ["test_other.TestOther.test_adding_zero"]


def test_quiet_failfast_unittest_that_still_fails_is_graded_by_exit_code(tmp_path: Path) -> None:
    # -f stops the before run at test_add, so test_known_bug never ran there: it is no pass-to-fail.
    command = [sys.executable, "-m", "unittest", "-f", "test_calc", "test_other"]
    extra = {"test_other.py": OTHER_TESTS}
    run(project(tmp_path / "before", BUGGY, extra), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.grading_method == "exit_code" and verdict.resolved is False
    assert verdict.pass_to_fail == []


def test_quiet_unittest_failures_are_read_from_the_report() -> None:
    report = (
        "F.E\n"
        + "=" * 70
        + "\nFAIL: test_a (pkg.t.C.test_a)\n"
        + "-" * 70
        + "\nAssertionError\n\n"
        + "=" * 70
        + "\nERROR: test_b (pkg.t.C) (i=2)\n"
        + "-" * 70
        + "\nKeyError\n\n"
        + "-" * 70
        + "\nRan 3 tests in 0.001s\n\nFAILED (failures=1, errors=1)\n"
    )
    assert parse_unittest_failures(report) == {"pkg.t.C.test_a": FAILED, "pkg.t.C.test_b": ERROR}
    assert parse_unittest_failures("FAIL: test_a (pkg.t.C.test_a)\n") is None  # killed before "Ran N tests"
    assert parse_unittest_failures("\nRan 0 tests in 0.000s\n\nNO TESTS RAN\n") is None  # says nothing
    # unittest's closing line is no pytest `-rA` summary line (more-itertools: "FAILED (failures=2)").
    assert parse_short_summary(report) is None
    assert parse_short_summary("Ran 2 tests in 0.001s\n\nFAILED (failures=2)\n") is None
    assert parse_short_summary("FAILED tests/t.py::test_a - assert 0\n") is not None


# pyparsing 2019 runs its suite as a script whose test class names itself in __str__: unittest's report says
# `FAIL: PrecededByTest`, with no `(module.Class.test)` after it.
NAMED_TESTS = """import unittest

from calc import add


class NamedTest(unittest.TestCase):
    def __str__(self):
        return type(self).__name__


class AddTest(NamedTest):
    def runTest(self):
        self.assertEqual(add(2, 3), 5)


class ZeroTest(NamedTest):
    def runTest(self):
        self.assertEqual(add(2, 0), 2)


if __name__ == "__main__":
    suite = unittest.TestSuite([AddTest(), ZeroTest()])
    raise SystemExit(not unittest.TextTestRunner().run(suite).wasSuccessful())
"""


def test_a_test_that_names_itself_is_graded_by_that_name(tmp_path: Path) -> None:
    command = [sys.executable, "unitTests.py"]
    extra = {"unitTests.py": NAMED_TESTS}
    run(project(tmp_path / "before", BUGGY, extra), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.grading_method == "unittest-failures" and verdict.resolved is True
    assert verdict.fail_to_pass == ["AddTest"]
    # A header with more than one word on its line is no test id.
    report = "\nFAIL: a name with spaces\nERROR: Named_1 \n\nRan 2 tests in 0.1s\n\nFAILED (failures=1)\n"
    assert parse_unittest_failures(report) == {"Named_1": ERROR}


def test_verbose_parse_keeps_skips_apart_and_reads_docstring_lines(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "unittest", "-v", "test_calc"]
    run(project(tmp_path / "t", FIXED), command, tmp_path / "logs")
    report = parse_unittest_output((tmp_path / "logs" / "test_output.txt").read_text())
    assert report is not None and report.tests == {
        "test_calc.TestAdd.test_add": PASSED,
        "test_calc.TestAdd.test_zero": PASSED,
        "test_calc.TestAdd.test_skipped": SKIPPED,
    }


@pytest.mark.parametrize("verbose", [True, False])
def test_a_module_failing_to_import_in_both_runs_is_the_environment(tmp_path: Path, verbose: bool) -> None:
    command = [sys.executable, "-m", "unittest", *(["-v"] if verbose else []), "test_calc", "test_needs"]
    extra = {"test_needs.py": NEEDS_MISSING}
    run(project(tmp_path / "before", BUGGY, extra), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.error_kind == ENVIRONMENT and verdict.resolved is None and verdict.tests_passed is None
    assert "test_needs.py" in (verdict.error or "") and "bugtrail_no_such_module_xyz" in (verdict.error or "")


def test_a_script_failing_on_the_same_missing_module_in_both_runs_is_the_environment(tmp_path: Path) -> None:
    script = "import bugtrail_no_such_module_xyz\n"
    command = [sys.executable, "check.py"]
    run(project(tmp_path / "before", BUGGY, {"check.py": script}), command, tmp_path / "run" / "before")
    run(project(tmp_path / "after", FIXED, {"check.py": script}), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.error_kind == ENVIRONMENT and verdict.resolved is None
    assert "missing modules: bugtrail_no_such_module_xyz" in (verdict.error or "")


def test_a_module_the_fix_adds_is_a_real_fail_to_pass(tmp_path: Path) -> None:
    # Before the fix the script cannot import calc_extra (the fix adds it): a failing run, not an environment.
    script = "from calc_extra import double\nassert double(2) == 4\n"
    command = [sys.executable, "check.py"]
    run(project(tmp_path / "before", BUGGY, {"check.py": script}), command, tmp_path / "run" / "before")
    extra = {"check.py": script, "calc_extra.py": "def double(x):\n    return 2 * x\n"}
    run(project(tmp_path / "after", FIXED, extra), command, tmp_path / "run" / "after")
    verdict = grade_logs(tmp_path / "run")
    assert verdict.error_kind is None and verdict.resolved is True and verdict.grading_method == "exit_code"


def test_other_output_is_not_taken_for_unittest() -> None:
    assert parse_unittest_output("test_a (x.y) ... ok\n") is None  # no "Ran N tests" line
    assert parse_unittest_output("collected 3 items\n3 passed in 0.1s\n") is None
