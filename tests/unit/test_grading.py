"""Grading is pure: saved logs in, verdict out."""

import json
from pathlib import Path

from bugtrail.qa.grading import ERROR, FAILED, PASSED, SKIPPED, PhaseLog, grade, grade_logs, parse_junit

JUNIT_XUNIT1 = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_calc" name="test_add" file="tests/test_calc.py" line="1" time="0"/>
<testcase classname="tests.test_calc.TestDiv" name="test_zero[1-2]" file="tests/test_calc.py" line="5">
  <failure message="boom">trace</failure></testcase>
<testcase classname="tests.test_calc" name="test_skip" file="tests/test_calc.py">
  <skipped message="s"/></testcase>
<testcase classname="tests.test_calc" name="test_teardown" file="tests/test_calc.py"/>
<testcase classname="tests.test_calc" name="test_teardown" file="tests/test_calc.py">
  <error message="t"/></testcase>
<testcase classname="" name="tests.test_broken"><error message="collection failure"/></testcase>
</testsuite></testsuites>"""


def test_parse_junit_rebuilds_node_ids_and_worst_outcome():
    outcomes = parse_junit(JUNIT_XUNIT1)
    assert outcomes == {
        "tests/test_calc.py::test_add": PASSED,
        "tests/test_calc.py::TestDiv::test_zero[1-2]": FAILED,
        "tests/test_calc.py::test_skip": SKIPPED,
        "tests/test_calc.py::test_teardown": ERROR,
        "tests.test_broken": ERROR,
    }


def test_parse_junit_node_ids_of_tests_defined_in_another_file():
    # A base class in tests/__init__.py generates the methods of tests/test_plugins.py's classes: pytest's
    # junit file is where the function is defined, the classname comes from the node id.
    xml = """<testsuite>
<testcase classname="tests.test_plugins.TestPlugin_table" name="test_ast" file="tests/test_plugins.py"/>
<testcase classname="tests.test_plugins.TestPlugin_lists" name="test_lists_005" file="tests/__init__.py"/>
<testcase classname="tests.test_other.TestA.Inner" name="test_b" file="tests/base.py"/>
<testcase classname="tests.test_helpers_used" name="test_shared" file="tests/helpers.py"/>
</testsuite>"""
    assert parse_junit(xml) == {
        "tests/test_plugins.py::TestPlugin_table::test_ast": PASSED,
        "tests/test_plugins.py::TestPlugin_lists::test_lists_005": PASSED,
        "tests/test_other.py::TestA::Inner::test_b": PASSED,
        "tests/test_helpers_used.py::test_shared": PASSED,
    }


def test_parse_junit_xunit2_without_file_attribute():
    xml = '<testsuite><testcase classname="tests.test_x" name="test_a"/></testsuite>'
    assert parse_junit(xml) == {"tests.test_x::test_a": PASSED}


def test_fix_with_new_failing_test_is_resolved():
    before = PhaseLog(1, tests={"t::old": PASSED, "t::other": PASSED, "t::new": FAILED})
    after = PhaseLog(0, tests={"t::old": PASSED, "t::other": PASSED, "t::new": PASSED})
    verdict = grade(before, after)
    assert verdict.tests_passed and verdict.resolved
    assert verdict.fail_to_pass == ["t::new"]
    assert verdict.pass_to_pass == ["t::old", "t::other"]
    assert verdict.failed_after == [] and verdict.pass_to_fail == []


def test_test_missing_before_counts_as_failing_before():
    before = PhaseLog(2, tests={"t::old": PASSED, "t.test_new": ERROR})
    after = PhaseLog(0, tests={"t::old": PASSED, "t::new": PASSED})
    assert grade(before, after).fail_to_pass == ["t::new"]
    assert grade(before, after).resolved


def test_wrong_fix_is_neither_passed_nor_resolved():
    before = PhaseLog(1, tests={"t::old": PASSED, "t::new": FAILED})
    after = PhaseLog(1, tests={"t::old": PASSED, "t::new": FAILED})
    verdict = grade(before, after)
    assert not verdict.tests_passed and not verdict.resolved
    assert verdict.failed_after == ["t::new"]


def test_fix_that_breaks_another_test_is_not_resolved():
    before = PhaseLog(1, tests={"t::old": PASSED, "t::new": FAILED})
    after = PhaseLog(1, tests={"t::old": FAILED, "t::new": PASSED})
    verdict = grade(before, after)
    assert not verdict.resolved and not verdict.tests_passed
    assert verdict.fail_to_pass == ["t::new"]
    assert verdict.failed_after == ["t::old"] and verdict.pass_to_fail == ["t::old"]


def test_skipped_test_is_neither_passing_nor_failing():
    before = PhaseLog(1, tests={"t::a": FAILED, "t::s": SKIPPED})
    after = PhaseLog(0, tests={"t::a": PASSED, "t::s": SKIPPED})
    verdict = grade(before, after)
    assert verdict.resolved and verdict.failed_after == [] and verdict.fail_to_pass == ["t::a"]


def test_no_junit_falls_back_to_exit_codes():
    verdict = grade(PhaseLog(1, command="make test"), PhaseLog(0, command="make test"))
    assert verdict.grading_method == "exit_code"
    assert verdict.resolved and verdict.fail_to_pass == ["make test"]
    assert not grade(PhaseLog(0, command="x"), PhaseLog(0, command="x")).resolved


def test_timed_out_after_run_is_a_failure():
    before = PhaseLog(1, tests={"t::a": FAILED})
    after = PhaseLog(137, timed_out=True, command="pytest", tests=None)
    verdict = grade(before, after)
    assert not verdict.tests_passed and not verdict.resolved and verdict.timed_out


def test_hanging_before_run_keeps_after_detail():
    before = PhaseLog(137, timed_out=True, tests=None)
    after = PhaseLog(0, tests={"t::a": PASSED})
    verdict = grade(before, after)
    assert verdict.grading_method == "junit-after-only"
    assert verdict.fail_to_pass == ["t::a"] and verdict.resolved


def test_grade_logs_reads_fixed_file_names(tmp_path: Path):
    for phase, code, xml in (
        (
            "before",
            1,
            '<testsuite><testcase classname="a" name="t" file="a.py"><failure/></testcase></testsuite>',
        ),
        ("after", 0, '<testsuite><testcase classname="a" name="t" file="a.py"/></testsuite>'),
    ):
        (tmp_path / phase).mkdir()
        (tmp_path / phase / "run.json").write_text(json.dumps({"exit_code": code, "timed_out": False}))
        (tmp_path / phase / "junit.xml").write_text(xml)
    verdict = grade_logs(tmp_path)
    assert verdict.resolved and verdict.fail_to_pass == ["a.py::t"]


def test_half_written_junit_is_ignored(tmp_path: Path):
    for phase in ("before", "after"):
        (tmp_path / phase).mkdir()
        (tmp_path / phase / "run.json").write_text(json.dumps({"exit_code": 1, "command": "pytest"}))
        (tmp_path / phase / "junit.xml").write_text("<testsuite><testcase")
    assert grade_logs(tmp_path).grading_method == "exit_code"


def test_tests_a_stopped_before_run_never_reached_are_not_fail_to_pass():
    bang = "!" * 26
    stopped = f"F\n{bang} stopping after 1 failures {bang}\n1 failed in 0.1s\n"
    before = PhaseLog(1, tests={"tests/test_a.py::test_new": FAILED}, output=stopped)
    after = PhaseLog(
        0,
        tests={
            "tests/test_a.py::test_new": PASSED,
            "tests/test_a.py::test_other_new": PASSED,
            "tests/test_b.py::test_never_reached": PASSED,
        },
    )
    verdict = grade(before, after, edited_test_files=frozenset({"tests/test_a.py"}))
    assert verdict.resolved is True
    assert verdict.fail_to_pass == ["tests/test_a.py::test_new", "tests/test_a.py::test_other_new"]
    assert verdict.pass_to_pass == []
    # Without the stop, a test missing before still counts as failing before (a new test that did not import).
    complete = PhaseLog(1, tests={"tests/test_a.py::test_new": FAILED}, output="1 failed in 0.1s\n")
    assert "tests/test_b.py::test_never_reached" in grade(complete, after).fail_to_pass


def test_tests_a_stopped_after_run_never_reached_are_not_pass_to_fail():
    bang = "!" * 26
    tests = {"t.py::test_old_failure": FAILED, "t.py::test_new": FAILED, "t.py::test_z": PASSED}
    before = PhaseLog(1, tests=tests)
    after = PhaseLog(
        1,
        tests={"t.py::test_old_failure": FAILED, "t.py::test_new": PASSED},
        output=f"{bang} stopping after 1 failures {bang}\n",
    )
    verdict = grade(before, after)
    assert verdict.pass_to_fail == [] and verdict.fail_to_pass == ["t.py::test_new"]
    assert verdict.resolved is True
