"""Grading: a pure function of the runner's saved logs (run.json, junit.xml, output per phase) -> verdict.

Per-test outcomes come from pytest's junit XML (or, without one, from `-rA` short-summary lines in the
output); a phase with neither (not pytest, killed) is graded by its exit code as a single pseudo-test named
after the command. A test absent from the "before" run counts as not passing before (a new test that failed
to import is the common case). Test ids are kept verbatim and compared by id, never by count.

Before grading, `environment_problem` asks whether the tests could run at all: a pytest usage or internal
error, collection errors that are not caused by the edits, nothing collected after, nothing run before. Such
a run is not a verdict about the fix: the result is `error` with error_kind "environment" and the reason.
unittest without `-v` names only its failures (`FAIL: test_x (mod.Class.test_x)`): when both runs completed
and the before run failed some tests, those failures are graded per test (`unittest-failures`), a test that
no longer fails after a complete run counting as passed; otherwise by exit code.
With reruns (before/run-1/, after/run-1/, ...) a test whose outcome differs between runs of a phase is
`flaky` and kept out of the fail-to-pass / pass-to-pass lists.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
_RANK = {PASSED: 0, SKIPPED: 1, FAILED: 2, ERROR: 3}
COLLECTION_FAILURE = "collection failure"  # pytest junit's message for a module that failed to import
RERUN_PREFIX = "run-"  # <phase>/run-1/, <phase>/run-2/, ...: the extra runs of BUGTRAIL_QA_RERUNS
ENVIRONMENT, INFRASTRUCTURE = "environment", "infrastructure"
PYTEST_INTERNAL_ERROR, PYTEST_USAGE_ERROR, PYTEST_NO_TESTS = 3, 4, 5
IMPORT_ERRORS = ("ModuleNotFoundError", "ImportError")
REASON_LINES = 6

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# `-rA` short summary: "PASSED tests/t.py::test_x[a - b]" or "FAILED tests/t.py::test_y - AssertionError".
# The id is the shortest text (brackets may hold spaces and " - ") after which " - msg" or the end follows;
# it never starts with "(", which keeps unittest's closing `FAILED (failures=2)` out.
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS)\s+([^\s(]\S*?(?:\[.*?\])?)(?: - .*)?$")
_SUMMARY_OUTCOME = {"PASSED": PASSED, "FAILED": FAILED, "ERROR": ERROR, "XFAIL": SKIPPED, "XPASS": PASSED}
# unittest's verbose line: `test_x (pkg.mod.Class.test_x) ... ok` (3.11+; `(pkg.mod.Class)` before), its
# docstring's first line, when there is one, on the next line before the ` ... `.
_UNITTEST_LINE = re.compile(
    r"^(\w+) \(([\w.]+)\)(?:\n[^\n]*?)? \.\.\. "
    r"(ok|FAIL|ERROR|skipped\b.*|expected failure|unexpected success)$",
    re.M,
)
_UNITTEST_OUTCOME = {"ok": PASSED, "FAIL": FAILED, "ERROR": ERROR, "expected failure": SKIPPED}
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
# A failure's header in unittest's report (with or without -v): `FAIL: test_x (pkg.mod.Class.test_x)`; a
# subtest's adds ` (i=1)` or ` [msg]` after it.
_UNITTEST_FAILFAST = re.compile(r"(?:^|\s)(?:--failfast|-[a-z]*f[a-z]*)(?=\s|$)")
# A test class whose __str__ returns a bare name (pyparsing 2019: `FAIL: PrecededByTest`) is reported by
# that name alone: one identifier on the line, kept as the test's id.
_UNITTEST_FAILURE = re.compile(r"^(FAIL|ERROR): (\w+)(?: \(([\w.]+)\)|[ \t]*$)", re.M)
_UNITTEST_IMPORT = re.compile(r"^ImportError: Failed to import test module: ([\w.]+)$", re.M)
_UNITTEST_FAILED_LOAD = "unittest.loader._FailedTest"
_MISSING_MODULE = re.compile(r"^(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'", re.M)


@dataclass
class PhaseLog:
    exit_code: int | None
    timed_out: bool = False
    command: str = ""
    tests: dict[str, str] | None = None  # test id -> outcome; None when there are no per-test outcomes
    collection_errors: dict[str, str] = field(default_factory=dict)  # test file -> the error's last line
    output: str = ""  # ANSI codes stripped
    oom_killed: bool = False
    reruns: list[PhaseLog] = field(default_factory=list)
    # A complete non-verbose unittest run: its failing tests (id -> outcome), None for any other output.
    unittest_failures: dict[str, str] | None = None


@dataclass
class Verdict:
    tests_passed: bool | None
    resolved: bool | None
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    failed_after: list[str] = field(default_factory=list)
    pass_to_fail: list[str] = field(default_factory=list)
    grading_method: str = "junit"  # junit | junit-after-only | unittest-failures | exit_code | not-graded
    timed_out: bool = False
    tests_before: int = 0
    tests_after: int = 0
    flaky: list[str] = field(default_factory=list)
    exit_code_note: str | None = None
    error_kind: str | None = None  # environment | infrastructure: the tests could not run
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JunitReport:
    tests: dict[str, str]
    collection_errors: dict[str, str]


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_junit(xml_text: str | bytes) -> dict[str, str]:
    """pytest junit XML (xunit1 or xunit2) -> {node id: outcome}; the worst outcome wins for repeated ids."""
    report = parse_junit_report(xml_text)
    return {**report.tests, **{_module_id(f): ERROR for f in report.collection_errors}}


def parse_junit_report(xml_text: str | bytes) -> JunitReport:
    """Test outcomes and, apart from them, the test files that failed to collect."""
    root = ET.fromstring(xml_text)
    outcomes: dict[str, str] = {}
    collection_errors: dict[str, str] = {}
    modules = _node_modules(root)
    for case in root.iter("testcase"):
        errors = [child for child in case if child.tag == "error"]
        if any(child.get("message") == COLLECTION_FAILURE for child in errors):
            where = case.get("file") or _module_path(case.get("name", ""))
            collection_errors[where] = _last_error_line(errors[0].text or "")
            continue
        test_id = _node_id(case.get("classname", ""), case.get("name", ""), case.get("file"), modules)
        outcome = PASSED
        for child in case:
            if child.tag == "failure":
                outcome = _worse(outcome, FAILED)
            elif child.tag == "error":
                outcome = _worse(outcome, ERROR)
            elif child.tag == "skipped":
                outcome = _worse(outcome, SKIPPED)
        outcomes[test_id] = _worse(outcomes.get(test_id, PASSED), outcome)
    return JunitReport(outcomes, collection_errors)


def parse_short_summary(output: str) -> JunitReport | None:
    """Outcomes from pytest's `-rA` short summary lines; None when the output has none."""
    tests: dict[str, str] = {}
    collection_errors: dict[str, str] = {}
    for line in strip_ansi(output).splitlines():
        match = _SUMMARY.match(line.rstrip())
        if not match:
            continue
        kind, test_id = match.group(1), match.group(2)
        if kind == "ERROR" and "::" not in test_id:
            collection_errors[test_id] = line.partition(" - ")[2] or "error during collection"
        else:
            tests[test_id] = _worse(tests.get(test_id, PASSED), _SUMMARY_OUTCOME[kind])
    return JunitReport(tests, collection_errors) if tests or collection_errors else None


def parse_unittest_output(output: str) -> JunitReport | None:
    """Outcomes from unittest's verbose (`-v`) lines and failed test-module imports; None for other output.

    Test ids are unittest's dotted `module.Class.test`; a module that failed to import is a collection error
    under its file path (as pytest's are), with the traceback's last line.
    """
    text = strip_ansi(output)
    if not _UNITTEST_RAN.search(text):
        return None
    tests: dict[str, str] = {}
    for match in _UNITTEST_LINE.finditer(text):
        name, where, word = match.groups()
        test_id = _unittest_id(name, where)
        if test_id is None:
            continue
        outcome = SKIPPED if word.startswith("skipped") else _UNITTEST_OUTCOME.get(word, PASSED)
        tests[test_id] = _worse(tests.get(test_id, PASSED), outcome)
    collection_errors: dict[str, str] = {}
    for match in _UNITTEST_IMPORT.finditer(text):
        block = re.split(r"^(?:={20,}|-{20,})$", text[match.end() :], maxsplit=1, flags=re.M)[0]
        errors = [line.strip() for line in block.splitlines() if re.match(r"^\w*(Error|Exception)\b", line)]
        collection_errors[_module_path(match.group(1))] = errors[-1] if errors else match.group(0)
    return JunitReport(tests, collection_errors) if tests or collection_errors else None


def _unittest_id(name: str, where: str) -> str | None:
    """`module.Class.test` from unittest's `name (where)`; None for a module that failed to import (a
    collection error, not a test)."""
    if where.startswith(_UNITTEST_FAILED_LOAD):
        return None
    return where if where.endswith(f".{name}") else f"{where}.{name}"


def parse_unittest_failures(output: str) -> dict[str, str] | None:
    """The failing tests a complete unittest run reports (`FAIL:` / `ERROR:` headers), as dotted ids;
    None without a "Ran N tests" line (not unittest, or killed before its report) or with "Ran 0 tests"
    (no failure then says nothing about the tests that failed before)."""
    text = strip_ansi(output)
    ran = _UNITTEST_RAN.search(text)
    if not ran or int(ran.group(1)) == 0:
        return None
    failures: dict[str, str] = {}
    for match in _UNITTEST_FAILURE.finditer(text):
        word, name, where = match.groups()
        test_id = _unittest_id(name, where) if where is not None else name
        if test_id is None:
            continue
        failures[test_id] = _worse(failures.get(test_id, FAILED), FAILED if word == "FAIL" else ERROR)
    return failures


def _failures_only_outcomes(
    before: PhaseLog, after: PhaseLog
) -> tuple[dict[str, str], dict[str, str]] | None:
    """Per-test outcomes of two non-verbose unittest runs, from their failures alone: the tests that failed
    in either run, passed where the other, complete, run did not list them. None unless both runs completed
    without import errors and the before run failed some test (a before run that could not even import the
    new test stays graded by exit code)."""
    failed_before, failed_after = before.unittest_failures, after.unittest_failures
    if not failed_before or failed_after is None or before.timed_out or after.timed_out:
        return None
    if before.collection_errors or after.collection_errors:
        return None
    if failed_after and _UNITTEST_FAILFAST.search(after.command):
        return None  # stopped at its first failure: the tests it never reached are unknown, not passed
    named = set(failed_before) | set(failed_after)
    return (
        {test: failed_before.get(test, PASSED) for test in named},
        {test: failed_after.get(test, PASSED) for test in named},
    )


def missing_modules(output: str) -> set[str]:
    """Modules an output says could not be imported (`No module named 'x'`)."""
    return set(_MISSING_MODULE.findall(strip_ansi(output)))


def _last_error_line(text: str) -> str:
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    if lines:
        return lines[-1]
    stripped = [line.strip() for line in text.splitlines() if line.strip()]
    return stripped[-1] if stripped else COLLECTION_FAILURE


def _module_path(dotted: str) -> str:
    return dotted.replace(".", "/") + ".py" if dotted else dotted


def _module_id(path: str) -> str:
    """The id parse_junit has always given a collection error (the junit name: a dotted module)."""
    return path[:-3].replace("/", ".") if path.endswith(".py") else path


def _worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def _node_modules(root: ET.Element) -> dict[str, str]:
    """{dotted module: file} of the cases whose `file` is the module their classname names.

    pytest's junit `classname` comes from the node id, but `file` from where the test function is defined: a
    unittest method a base class in tests/__init__.py generates for tests/test_plugins.py::TestX has
    file="tests/__init__.py". The consistent cases tell which dotted prefixes are test modules."""
    modules: dict[str, str] = {}
    for case in root.iter("testcase"):
        file, classname = case.get("file") or "", case.get("classname", "")
        module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
        if module and (classname == module or classname.startswith(module + ".")):
            modules[module] = file
    return modules


def _node_id(classname: str, name: str, file: str | None, modules: dict[str, str] | None = None) -> str:
    """Rebuild pytest's node id: file::Class::name when the file is known, else classname::name.

    When `file` is not the module the classname names (the test is defined elsewhere), the node's own module
    is the longest prefix of the classname that other cases show to be a module, else the part before the
    first capitalised name (a class)."""
    if file and file.endswith(".py"):
        module = file[:-3].replace("/", ".")
        if classname and classname != module and not classname.startswith(module + "."):
            file, module = _node_module(classname, modules or {})
        rest = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        classes = rest.split(".") if rest else []
        return "::".join(part for part in (file, *classes, name) if part)
    return f"{classname}::{name}" if classname else name


def _node_module(classname: str, modules: dict[str, str]) -> tuple[str, str]:
    """(file, dotted module) of the node a junit classname names."""
    known = [m for m in modules if classname == m or classname.startswith(m + ".")]
    if known:
        module = max(known, key=len)
        return modules[module], module
    parts = classname.split(".")
    first_class = next((i for i, part in enumerate(parts) if i and part[:1].isupper()), len(parts))
    module = ".".join(parts[:first_class])
    return module.replace(".", "/") + ".py", module


def _looks_like_pytest(phase: PhaseLog) -> bool:
    command = phase.command.lower()
    return (
        "pytest" in command
        or "py.test" in command
        or phase.tests is not None
        or "test session starts" in phase.output
        or "INTERNALERROR>" in phase.output
        or "ERROR: usage:" in phase.output
    )


def _excerpt(output: str, markers: tuple[str, ...]) -> str:
    """The output lines that say why (lines with any marker), else the last lines."""
    lines = [line for line in output.splitlines() if line.strip()]
    chosen = [line for line in lines if any(marker in line for marker in markers)] or lines
    return "\n".join(chosen[-REASON_LINES:])


def environment_problem(
    before: PhaseLog, after: PhaseLog, edited_test_files: frozenset[str] = frozenset()
) -> tuple[str, str] | None:
    """(error_kind, reason) when the saved logs show the tests could not run; None when they are a verdict."""
    for name, phase in (("before", before), ("after", after)):
        if phase.oom_killed:
            return INFRASTRUCTURE, f"the {name} run's container was killed for running out of memory"
    # A before run broken by the test edit itself (a conftest.py importing what the fix adds) while the
    # after run has outcomes is the ordinary fail-before case, not the environment.
    before_broken_by_edit = bool(after.tests) and _names_any(before.output, edited_test_files)
    for name, phase in (("before", before), ("after", after)):
        if phase.timed_out or not _looks_like_pytest(phase) or (phase is before and before_broken_by_edit):
            continue
        if phase.exit_code == PYTEST_USAGE_ERROR:
            detail = _excerpt(phase.output, ("ERROR:", "error:"))
            return ENVIRONMENT, f"pytest usage error (exit 4) in the {name} run:\n{detail}"
        if phase.exit_code == PYTEST_INTERNAL_ERROR:
            detail = _excerpt(phase.output, ("INTERNALERROR>",))
            return ENVIRONMENT, f"pytest internal error (exit 3) in the {name} run:\n{detail}"
    both = sorted(set(before.collection_errors) & set(after.collection_errors))
    if both:
        listed = "\n".join(f"  {path}: {after.collection_errors[path]}" for path in both)
        return ENVIRONMENT, f"test files failed to collect in both runs:\n{listed}"
    untouched = sorted(
        path
        for path, message in before.collection_errors.items()
        if path not in edited_test_files and any(kind in message for kind in IMPORT_ERRORS)
    )
    if untouched:
        listed = "\n".join(f"  {path}: {before.collection_errors[path]}" for path in untouched)
        return ENVIRONMENT, f"test files the edits do not touch failed to import in the before run:\n{listed}"
    if (
        after.exit_code == PYTEST_NO_TESTS
        and not after.timed_out
        and not after.tests
        and _looks_like_pytest(after)
    ):
        return ENVIRONMENT, "no tests were collected in the after run (pytest exit 5)"
    missing = _missing_in_both(before, after)
    if missing:
        return ENVIRONMENT, f"the test command failed in both runs on missing modules: {', '.join(missing)}"
    before_ran_nothing = not before.tests and not before.collection_errors and not before.timed_out
    if after.tests is not None and before_ran_nothing and not before_broken_by_edit:
        return ENVIRONMENT, f"the before run produced no test outcomes (exit code {before.exit_code})"
    return None


def _missing_in_both(before: PhaseLog, after: PhaseLog) -> list[str]:
    """A command without per-test outcomes (a script, unittest without -v) that failed in both runs on the
    same missing module could not run: that is the environment, not the fix."""
    if after.tests or before.timed_out or after.timed_out or before.exit_code == 0 or after.exit_code == 0:
        return []
    return sorted(missing_modules(before.output) & missing_modules(after.output))


def _names_any(output: str, paths: frozenset[str]) -> bool:
    return any(path and path in output for path in paths)


def flaky_tests(phase: PhaseLog) -> set[str]:
    """Tests whose outcome differs between the runs of one phase (the pseudo-test by exit code too)."""
    flaky: set[str] = set()
    for rerun in phase.reruns:
        if phase.tests is not None and rerun.tests is not None:
            for test in set(phase.tests) | set(rerun.tests):
                if phase.tests.get(test) != rerun.tests.get(test):
                    flaky.add(test)
        elif (phase.exit_code == 0) != (rerun.exit_code == 0):
            flaky.add(phase.command or "test command")
    return flaky


def _exit_code_note(after: PhaseLog) -> str | None:
    """Why a run whose tests all passed still exited non-zero (None when that is not the case)."""
    if after.exit_code in (0, None) or after.timed_out or not after.tests or after.collection_errors:
        return None
    if any(outcome in (FAILED, ERROR) for outcome in after.tests.values()):
        return None
    coverage = [line.strip() for line in after.output.splitlines() if "Required test coverage" in line]
    if coverage:
        code = after.exit_code
        return f"exit code {code}: coverage threshold not reached ({coverage[-1]}); every test passed"
    return f"exit code {after.exit_code} although every test passed (a plugin or session hook failed the run)"


def grade(before: PhaseLog, after: PhaseLog, edited_test_files: frozenset[str] = frozenset()) -> Verdict:
    timed_out = before.timed_out or after.timed_out
    problem = environment_problem(before, after, edited_test_files)
    if problem is not None:
        kind, reason = problem
        return Verdict(
            tests_passed=None,
            resolved=None,
            grading_method="not-graded",
            timed_out=timed_out,
            tests_before=len(before.tests or {}),
            tests_after=len(after.tests or {}),
            error_kind=kind,
            error=reason,
        )
    exit_code_note = _exit_code_note(after)
    tests_passed = (after.exit_code == 0 or exit_code_note is not None) and not after.timed_out
    use_tests = before.tests is not None and after.tests is not None and bool(after.tests)
    if use_tests:
        before_tests, after_tests = before.tests or {}, after.tests or {}
        method = "junit"
    else:
        pseudo = after.command or before.command or "test command"
        before_tests = {pseudo: PASSED if before.exit_code == 0 and not before.timed_out else FAILED}
        after_tests = {pseudo: PASSED if tests_passed else FAILED}
        method = "exit_code"
        from_failures = _failures_only_outcomes(before, after)
        if from_failures is not None:
            before_tests, after_tests = from_failures
            method = "unittest-failures"
        elif after.tests:  # only "before" lacks outcomes (e.g. it hung): keep the after run's per-test detail
            after_tests = dict(after.tests)
            before_tests = {}
            method = "junit-after-only"

    flaky = flaky_tests(before) | flaky_tests(after)
    passed_before = {t for t, o in before_tests.items() if o == PASSED} - flaky
    passed_after = {t for t, o in after_tests.items() if o == PASSED} - flaky
    if method == "junit" and _stopped_early(before):
        # `-x`/`--maxfail` ended the before run early: a test it never reached is unknown, not failing.
        passed_after &= set(before_tests) | edited_new_tests(after_tests, edited_test_files)
    if method == "junit" and _stopped_early(after):
        passed_before &= set(after_tests)  # likewise, never reached after: unknown, not pass-to-fail
    fail_to_pass = sorted(passed_after - passed_before)
    pass_to_pass = sorted(passed_after & passed_before)
    pass_to_fail = sorted(passed_before - passed_after)
    failed_after = sorted(t for t, o in after_tests.items() if o in (FAILED, ERROR))
    failed_after += sorted(path for path in after.collection_errors if path not in after_tests)
    resolved = bool(fail_to_pass) and not pass_to_fail and not after.timed_out
    return Verdict(
        tests_passed=tests_passed,
        resolved=resolved,
        fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass,
        failed_after=failed_after,
        pass_to_fail=pass_to_fail,
        grading_method=method,
        timed_out=timed_out,
        tests_before=len(before_tests),
        tests_after=len(after_tests),
        flaky=sorted(flaky),
        exit_code_note=exit_code_note if tests_passed else None,
    )


_STOPPED = re.compile(r"^!+ stopping after \d+ failures? !+$", re.M)


def _stopped_early(phase: PhaseLog) -> bool:
    """pytest's maxfail (`-x`, `--maxfail`) stopped the run before every test ran."""
    return bool(_STOPPED.search(phase.output))


def edited_new_tests(tests: dict[str, str], edited_test_files: frozenset[str]) -> set[str]:
    """Tests in files the test edit touched: a new test there may rightly be missing before."""
    return {t for t in tests if t.split("::", 1)[0] in edited_test_files}


def load_phase(
    log_dir: Path,
    run_file: str = "run.json",
    junit_file: str = "junit.xml",
    output_file: str = "test_output.txt",
) -> PhaseLog:
    """Read one phase's saved logs (the runner's fixed file names), with its reruns (run-1/, run-2/ ...)."""
    run = json.loads((log_dir / run_file).read_text())
    output = strip_ansi(_read_text(log_dir / output_file))
    report: JunitReport | None = None
    junit = log_dir / junit_file
    if junit.is_file():
        try:
            report = parse_junit_report(junit.read_bytes())
        except ET.ParseError:
            report = None  # a half-written file (killed mid-write) is no evidence
    if report is None:
        report = parse_short_summary(output) or parse_unittest_output(output)
    return PhaseLog(
        exit_code=run.get("exit_code"),
        timed_out=bool(run.get("timed_out")),
        command=str(run.get("command", "")),
        tests=report.tests if report is not None else None,
        collection_errors=report.collection_errors if report is not None else {},
        output=output,
        oom_killed=bool(run.get("oom_killed")),
        reruns=[load_phase(path, run_file, junit_file, output_file) for path in rerun_dirs(log_dir)],
        unittest_failures=parse_unittest_failures(output) if report is None else None,
    )


def rerun_dirs(phase_dir: Path) -> list[Path]:
    """<phase>/run-1, run-2, ... (only those with a run.json: a rerun that never ran is no evidence)."""
    found = [
        path
        for path in phase_dir.glob(f"{RERUN_PREFIX}*")
        if path.name[len(RERUN_PREFIX) :].isdigit() and (path / "run.json").is_file()
    ]
    return sorted(found, key=lambda path: int(path.name[len(RERUN_PREFIX) :]))


def edited_test_files(run_dir: Path) -> frozenset[str]:
    """Test files the edits touch (patch_report.json): their before-run content is not the base's."""
    try:
        report = json.loads((run_dir / "patch_report.json").read_text())
    except (FileNotFoundError, ValueError):
        return frozenset()
    return frozenset(str(entry.get("file")) for entry in report if entry.get("is_test"))


def grade_logs(run_dir: Path) -> Verdict:
    """Re-grade a finished QA run from its log directory (before/, after/, patch_report.json)."""
    return grade(load_phase(run_dir / "before"), load_phase(run_dir / "after"), edited_test_files(run_dir))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
