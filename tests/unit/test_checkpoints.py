"""Checkpoint selection and grading from saved logs (pure)."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bugtrail.qa.checkpoints import (
    CHECKPOINTS_DIR,
    INDEX_FILE,
    RecordedRun,
    choose,
    grade_checkpoints,
    is_test_run,
    recorded_test_runs,
)
from bugtrail.wire import EventRead


def test_test_runs_are_the_test_command_or_pytest():
    wanted = "python -m pytest -q tests/test_calc.py"
    assert is_test_run("python  -m pytest -q tests/test_calc.py", wanted)
    assert is_test_run("python -m pytest -q tests/test_calc.py -k add", wanted)
    assert is_test_run(".venv/bin/pytest -x", wanted) and is_test_run("py.test", wanted)
    assert is_test_run("make check", "make check")
    assert not is_test_run("pip install pytest-cov", wanted)
    assert not is_test_run("cat pytest.ini", wanted) and not is_test_run("git status", wanted)


def test_test_runs_keep_event_positions():
    at = datetime(2026, 11, 30, tzinfo=UTC)

    def event(seq: int, kind: str, details: dict[str, object]) -> EventRead:
        return EventRead(event_id=uuid.uuid4(), seq=seq, type=kind, timestamp=at, details=details)

    events = [
        event(0, "edit", {"file": "t.py", "diff": ""}),
        event(1, "command", {"command": "pytest -q"}),
        event(2, "command", {"command": "ls"}),
        event(3, "command", {"command": "pytest -q t.py"}),
    ]
    runs = recorded_test_runs(events, "pytest -q")
    assert [(run.position, run.seq) for run in runs] == [(1, 1), (3, 3)]


def test_choose_spreads_evenly_and_keeps_the_first_and_the_last():
    runs = [RecordedRun(position=i, event_id=str(i), seq=i) for i in range(10)]
    assert [run.seq for run in choose(runs, 4)] == [0, 3, 6, 9]
    assert [run.seq for run in choose(runs, 1)] == [9]
    assert [run.seq for run in choose(runs, 2)] == [0, 9]
    assert choose(runs, 20) == runs and choose(runs, 0) == [] and choose([], 3) == []


def _junit(cases: dict[str, str]) -> str:
    body = []
    for name, outcome in cases.items():
        inner = {"passed": "", "failed": '<failure message="boom"/>', "skipped": "<skipped/>"}[outcome]
        body.append(
            f'<testcase classname="tests.test_calc" name="{name}" file="tests/test_calc.py">'
            f"{inner}</testcase>"
        )
    return f'<testsuites><testsuite name="pytest">{"".join(body)}</testsuite></testsuites>'


def _write(root: Path, name: str, cases: dict[str, str], exit_code: int) -> None:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "junit.xml").write_text(_junit(cases))
    (run_dir / "test_output.txt").write_text("")
    (run_dir / "run.json").write_text(json.dumps({"exit_code": exit_code, "command": "pytest"}))


def test_grades_come_from_the_saved_logs(tmp_path: Path):
    root = tmp_path / CHECKPOINTS_DIR
    _write(root, "cp-01", {"test_add": "failed", "test_sub": "passed", "test_mul": "skipped"}, 1)
    _write(root, "cp-02", {"test_add": "passed", "test_sub": "passed"}, 0)
    index = [
        {"name": "cp-01", "event_id": "e1", "seq": 4, "edits": 1, "patch_applied": True},
        {"name": "cp-02", "event_id": "e2", "seq": 9, "edits": 2, "patch_applied": True},
        {"name": "cp-03", "event_id": "e3", "seq": 12, "edits": 3, "patch_applied": False},
    ]
    (root / INDEX_FILE).write_text(json.dumps(index))
    first, last, broken = grade_checkpoints(tmp_path, ["tests/test_calc.py::test_add"])
    assert first["failed"] == ["tests/test_calc.py::test_add"]
    assert first["passed"] == ["tests/test_calc.py::test_sub"]  # skipped tests are in neither list
    assert first["fail_to_pass_done"] is False and first["exit_code"] == 1
    assert last["fail_to_pass_done"] is True and last["seq"] == 9 and last["failed"] == []
    # Edits that did not apply: not run, no label.
    assert broken["passed"] == [] and broken["fail_to_pass_done"] is None and broken["patch_applied"] is False
    # Without fail-to-pass tests there is nothing to be done.
    assert grade_checkpoints(tmp_path, [])[1]["fail_to_pass_done"] is None
    assert grade_checkpoints(tmp_path / "nothing-here", []) == []


def test_a_command_without_per_test_outcomes_is_one_pseudo_test(tmp_path: Path):
    root = tmp_path / CHECKPOINTS_DIR
    for name, exit_code in (("cp-01", 2), ("cp-02", 0)):
        (root / name).mkdir(parents=True)
        (root / name / "test_output.txt").write_text("ok\n" if exit_code == 0 else "boom\n")
        (root / name / "run.json").write_text(json.dumps({"exit_code": exit_code, "command": "make check"}))
    index = [
        {"name": "cp-01", "event_id": "e1", "seq": 1, "edits": 0, "patch_applied": True},
        {"name": "cp-02", "event_id": "e2", "seq": 2, "edits": 1, "patch_applied": True},
    ]
    (root / INDEX_FILE).write_text(json.dumps(index))
    first, last = grade_checkpoints(tmp_path, ["make check"])
    assert first["failed"] == ["make check"] and first["fail_to_pass_done"] is False
    assert last["passed"] == ["make check"] and last["fail_to_pass_done"] is True
