"""Grading from saved logs: environment failures are not verdicts; odd exit codes, output, ids; flaky tests.

Each case writes a log directory exactly as the runner does (before/ and after/ with run.json, junit.xml,
test_output.txt; reruns under run-N/; patch_report.json) and grades it with grade_logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from bugtrail.qa.grading import grade_logs, parse_short_summary

COMMAND = "python -m pytest -q"
ESC = "\x1b"


def case(test_id: str, outcome: str = "passed", message: str = "") -> str:
    """One xunit1 testcase for a node id `file.py::[Class::]name`."""
    file, _, rest = test_id.partition("::")
    *classes, name = rest.split("::")
    classname = ".".join([file[:-3].replace("/", "."), *classes])
    body = {
        "passed": "",
        "failed": "<failure message='assert'>boom</failure>",
        "error": "<error message='fixture'>err</error>",
        "skipped": f"<skipped type='pytest.xfail' message={quoteattr(message or 'skip')}/>",
    }[outcome]
    attrs = f"classname={quoteattr(classname)} name={quoteattr(name)} file={quoteattr(file)}"
    return f"<testcase {attrs}>{body}</testcase>"


def collection_error(file: str, error: str) -> str:
    module = file[:-3].replace("/", ".")
    return (
        f'<testcase classname="" name="{module}" file="{file}"><error message="collection failure">'
        f"ImportError while importing test module\nE   {error}</error></testcase>"
    )


def junit(*cases: str) -> str:
    return (
        f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>'
    )


def phase(
    directory: Path,
    exit_code: int,
    junit_xml: str | None = None,
    output: str = "",
    *,
    oom: bool = False,
    timed_out: bool = False,
) -> None:
    directory.mkdir(parents=True)
    run = {"exit_code": exit_code, "command": COMMAND, "timed_out": timed_out, "oom_killed": oom}
    (directory / "run.json").write_text(json.dumps(run))
    (directory / "test_output.txt").write_text(output)
    if junit_xml is not None:
        (directory / "junit.xml").write_text(junit_xml)


def patch_report(run_dir: Path, *test_files: str) -> None:
    entries = [{"file": f, "is_test": True, "applied": True, "method": "git-apply"} for f in test_files]
    entries.append({"file": "pkg/core.py", "is_test": False, "applied": True, "method": "git-apply"})
    (run_dir / "patch_report.json").write_text(json.dumps(entries))


def test_usage_error_is_an_environment_error(tmp_path: Path) -> None:
    usage = (
        "ERROR: usage: python -m pytest [options]\n"
        "error: unrecognized arguments: --cov=pkg --cov-fail-under=100\n"
    )
    phase(tmp_path / "before", 4, None, usage)
    phase(tmp_path / "after", 4, None, usage)
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment"
    assert verdict.resolved is None and verdict.tests_passed is None
    assert "usage error (exit 4)" in (verdict.error or "") and "--cov-fail-under" in (verdict.error or "")


def test_internal_error_is_an_environment_error(tmp_path: Path) -> None:
    crash = "INTERNALERROR> Traceback (most recent call last):\nINTERNALERROR> AssertionError: rootdir\n"
    phase(tmp_path / "before", 1, junit(case("tests/test_a.py::test_a", "failed")))
    phase(tmp_path / "after", 3, None, crash)
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment" and verdict.resolved is None
    assert "internal error (exit 3) in the after run" in (verdict.error or "")
    assert "AssertionError: rootdir" in (verdict.error or "")


def test_missing_module_in_both_runs_is_an_environment_error(tmp_path: Path) -> None:
    missing = "ModuleNotFoundError: No module named 'dateutil'"
    phase(tmp_path / "before", 1, junit(collection_error("tests/test_core.py", missing)))
    phase(tmp_path / "after", 1, junit(collection_error("tests/test_core.py", missing)))
    patch_report(tmp_path, "tests/test_core.py")
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment" and verdict.resolved is None
    assert "tests/test_core.py: ModuleNotFoundError: No module named 'dateutil'" in (verdict.error or "")


def test_new_import_failing_before_only_is_a_real_fail_to_pass(tmp_path: Path) -> None:
    # The test edit imports the function the fix adds: collection fails before, passes after. A verdict.
    missing = "ImportError: cannot import name 'parse_range' from 'pkg.core'"
    phase(
        tmp_path / "before",
        1,
        junit(collection_error("tests/test_core.py", missing), case("tests/test_other.py::test_ok")),
    )
    after = junit(case("tests/test_core.py::test_parse_range"), case("tests/test_other.py::test_ok"))
    phase(tmp_path / "after", 0, after)
    patch_report(tmp_path, "tests/test_core.py")
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind is None and verdict.resolved is True
    assert verdict.fail_to_pass == ["tests/test_core.py::test_parse_range"]
    assert verdict.pass_to_pass == ["tests/test_other.py::test_ok"]


def test_untouched_test_file_failing_to_import_before_is_an_environment_error(tmp_path: Path) -> None:
    missing = "ModuleNotFoundError: No module named 'freezegun'"
    before = junit(
        collection_error("tests/test_time.py", missing), case("tests/test_core.py::test_new", "failed")
    )
    phase(tmp_path / "before", 1, before)
    phase(
        tmp_path / "after", 0, junit(case("tests/test_core.py::test_new"), case("tests/test_time.py::test_t"))
    )
    patch_report(tmp_path, "tests/test_core.py")
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment"
    assert "tests/test_time.py" in (verdict.error or "") and "freezegun" in (verdict.error or "")


def test_before_run_broken_by_the_edited_conftest_is_a_verdict(tmp_path: Path) -> None:
    # The test edit makes conftest.py import a helper the fix adds: before cannot start, after passes.
    crash = (
        "ImportError while loading conftest '/workspace/repo/tests/conftest.py'.\n"
        "E   ImportError: cannot import name 'make_clock'\n"
    )
    phase(tmp_path / "before", 4, None, crash)
    phase(tmp_path / "after", 0, junit(case("tests/test_a.py::test_clock")))
    patch_report(tmp_path, "tests/conftest.py", "tests/test_a.py")
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind is None and verdict.resolved is True
    assert verdict.fail_to_pass == ["tests/test_a.py::test_clock"]
    # The same crash in a conftest the edits do not touch is the environment's.
    patch_report(tmp_path, "tests/test_a.py")
    assert grade_logs(tmp_path).error_kind == "environment"


def test_no_tests_collected_after_is_an_environment_error(tmp_path: Path) -> None:
    phase(tmp_path / "before", 1, junit(case("tests/test_a.py::test_a", "failed")))
    phase(tmp_path / "after", 5, junit(), "no tests ran in 0.01s\n")
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment" and "no tests were collected" in (verdict.error or "")


def test_before_run_without_any_outcome_is_an_environment_error(tmp_path: Path) -> None:
    phase(tmp_path / "before", 1, junit(), "Fatal Python error: init_import_site\n")
    phase(tmp_path / "after", 0, junit(case("tests/test_a.py::test_a")))
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "environment" and verdict.resolved is None
    assert "before run produced no test outcomes" in (verdict.error or "")


def test_container_out_of_memory_is_infrastructure(tmp_path: Path) -> None:
    phase(tmp_path / "before", 137, None, oom=True)
    phase(tmp_path / "after", 0, junit(case("tests/test_a.py::test_a")))
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind == "infrastructure" and verdict.resolved is None


def test_coverage_threshold_is_graded_from_per_test_outcomes(tmp_path: Path) -> None:
    tail = "FAIL Required test coverage of 100% not reached. Total coverage: 62.50%\n2 passed in 0.1s\n"
    phase(
        tmp_path / "before",
        1,
        junit(case("tests/test_a.py::test_old"), case("tests/test_a.py::test_new", "failed")),
    )
    phase(
        tmp_path / "after",
        1,
        junit(case("tests/test_a.py::test_old"), case("tests/test_a.py::test_new")),
        tail,
    )
    verdict = grade_logs(tmp_path)
    assert verdict.error_kind is None
    assert verdict.tests_passed is True and verdict.resolved is True
    assert verdict.fail_to_pass == ["tests/test_a.py::test_new"]
    assert "coverage threshold" in (verdict.exit_code_note or "")
    assert "Required test coverage of 100% not reached" in (verdict.exit_code_note or "")


def test_non_zero_exit_with_a_failing_test_has_no_note(tmp_path: Path) -> None:
    phase(tmp_path / "before", 1, junit(case("tests/test_a.py::test_new", "failed")))
    phase(tmp_path / "after", 1, junit(case("tests/test_a.py::test_new", "failed")))
    verdict = grade_logs(tmp_path)
    assert verdict.tests_passed is False and verdict.exit_code_note is None and verdict.resolved is False


def test_colored_verbose_output_without_junit_is_graded_by_test_id(tmp_path: Path) -> None:
    # `addopts = -v --color=yes -rA`: escape codes in every summary line, verbose progress lines too.
    def colored(kind: str, test_id: str, message: str = "") -> str:
        color = "32" if kind == "PASSED" else "31"
        return f"{ESC}[{color}m{kind}{ESC}[0m {test_id}{f' - {message}' if message else ''}\n"

    progress = f"tests/test_a.py::test_old {ESC}[32mPASSED{ESC}[0m{ESC}[32m [ 50%]{ESC}[0m\n"
    before = (
        progress
        + colored("PASSED", "tests/test_a.py::test_old")
        + colored("FAILED", "tests/test_a.py::test_new[a - b]", "AssertionError: x - y")
    )
    after = (
        progress
        + colored("PASSED", "tests/test_a.py::test_old")
        + colored("PASSED", "tests/test_a.py::test_new[a - b]")
    )
    phase(tmp_path / "before", 1, None, before)
    phase(tmp_path / "after", 0, None, after)
    verdict = grade_logs(tmp_path)
    assert verdict.grading_method == "junit"
    assert verdict.fail_to_pass == ["tests/test_a.py::test_new[a - b]"]
    assert verdict.pass_to_pass == ["tests/test_a.py::test_old"] and verdict.resolved is True


def test_xfail_mark_removed_by_the_test_edit_is_fail_to_pass(tmp_path: Path) -> None:
    # At base the test is xfail (junit: skipped); the test edit drops the mark and the fix makes it pass.
    test_id = "tests/test_a.py::test_bug"
    phase(
        tmp_path / "before",
        0,
        junit(case(test_id, "skipped", "xfail: known bug"), case("tests/test_a.py::test_ok")),
    )
    phase(tmp_path / "after", 0, junit(case(test_id), case("tests/test_a.py::test_ok")))
    verdict = grade_logs(tmp_path)
    assert verdict.fail_to_pass == [test_id] and verdict.resolved is True


def test_parametrized_ids_with_brackets_colons_and_question_marks_stay_verbatim(tmp_path: Path) -> None:
    weird = "tests/test_url.py::TestParse::test_x[http://[::1]:8080/?q=1]"
    phase(tmp_path / "before", 1, junit(case(weird, "failed")))
    phase(tmp_path / "after", 0, junit(case(weird)))
    assert grade_logs(tmp_path).fail_to_pass == [weird]
    summary = parse_short_summary(f"FAILED {weird} - AssertionError: a - b]\nPASSED tests/t.py::t[?]\n")
    assert summary is not None and summary.tests == {weird: "failed", "tests/t.py::t[?]": "passed"}


def test_tests_are_compared_by_id_not_by_count(tmp_path: Path) -> None:
    # Another tz database gives another number of cases: only the ids present in both runs count.
    before = junit(
        *(case(f"tests/test_tz.py::test_zone[Zone/{i}]") for i in range(5)),
        case("tests/test_tz.py::test_bug", "failed"),
    )
    after = junit(
        *(case(f"tests/test_tz.py::test_zone[Zone/{i}]") for i in range(3)),
        case("tests/test_tz.py::test_bug"),
    )
    phase(tmp_path / "before", 1, before)
    phase(tmp_path / "after", 0, after)
    verdict = grade_logs(tmp_path)
    assert verdict.fail_to_pass == ["tests/test_tz.py::test_bug"]
    assert verdict.pass_to_pass == [f"tests/test_tz.py::test_zone[Zone/{i}]" for i in range(3)]
    assert verdict.pass_to_fail == [f"tests/test_tz.py::test_zone[Zone/{i}]" for i in (3, 4)]


def test_flaky_tests_are_listed_and_kept_out_of_the_lists(tmp_path: Path) -> None:
    stable, flaky, fixed = "tests/t.py::test_stable", "tests/t.py::test_flaky", "tests/t.py::test_fixed"
    phase(tmp_path / "before", 1, junit(case(stable), case(flaky), case(fixed, "failed")))
    phase(tmp_path / "before" / "run-1", 1, junit(case(stable), case(flaky, "failed"), case(fixed, "failed")))
    phase(tmp_path / "before" / "run-2", 1, junit(case(stable), case(flaky), case(fixed, "failed")))
    phase(tmp_path / "after", 1, junit(case(stable), case(flaky, "failed"), case(fixed)))
    phase(tmp_path / "after" / "run-1", 0, junit(case(stable), case(flaky), case(fixed)))
    verdict = grade_logs(tmp_path)
    assert verdict.flaky == [flaky]
    assert verdict.fail_to_pass == [fixed] and verdict.pass_to_pass == [stable]
    assert verdict.pass_to_fail == [] and verdict.resolved is True


def test_rerun_directories_without_a_run_file_are_ignored(tmp_path: Path) -> None:
    phase(tmp_path / "before", 1, junit(case("tests/t.py::test_a", "failed")))
    phase(tmp_path / "after", 0, junit(case("tests/t.py::test_a")))
    (tmp_path / "after" / "run-1").mkdir()  # a rerun that never ran (worker died): no evidence
    verdict = grade_logs(tmp_path)
    assert verdict.flaky == [] and verdict.resolved is True
