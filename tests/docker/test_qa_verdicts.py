"""QA verdicts through the real API, a real worker and real containers: fixes, wrong fixes, regressions."""

from __future__ import annotations

from bugtrail.config import Settings
from tests.support.buggy_repo import (
    CALC,
    FIX_BREAKS_SUB,
    FIXED,
    NEW_TEST,
    TESTS,
    WRONG_FIX,
    BuggyRepo,
    good_fix,
    submit_and_run,
    trace_body,
)

NEW_TEST_ID = "tests/test_calc.py::test_add"


def test_fix_with_new_failing_test_is_resolved(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    trace = submit_and_run(client, keys, worker, good_fix(buggy_repo))
    qa = trace["qa_results"]
    assert trace["status"] == "completed"
    assert qa["outcome"] == "completed", qa["error"]
    assert qa["tests_passed"] is True and qa["resolved"] is True
    assert qa["fail_to_pass"] == [NEW_TEST_ID]
    assert qa["pass_to_pass"] == ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_sub"]
    assert qa["failed_after"] == []
    assert qa["patch_applied"] is True
    assert [e["method"] for e in qa["patch_report"]] == ["git-apply", "git-apply"]
    assert [e["is_test"] for e in qa["patch_report"]] == [True, False]
    assert qa["before"]["exit_code"] == 1 and qa["after"]["exit_code"] == 0
    assert "3 passed" in qa["test_output"]
    assert qa["test_duration_s"] > 0 and qa["qa_timestamp"]
    # Seed fields are mirrored on the trace for filtering.
    assert trace["tests_passed"] is True and trace["resolved"] is True


def test_wrong_fix_is_neither_passed_nor_resolved(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    body = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [
            ("tests/test_calc.py", TESTS, NEW_TEST),
            ("calc.py", CALC, WRONG_FIX),
        ],
    )
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    assert qa["outcome"] == "completed"
    assert qa["tests_passed"] is False and qa["resolved"] is False
    assert qa["fail_to_pass"] == [] and qa["failed_after"] == [NEW_TEST_ID]


def test_fix_that_breaks_another_test_is_not_resolved(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    body = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [
            ("tests/test_calc.py", TESTS, NEW_TEST),
            ("calc.py", CALC, FIX_BREAKS_SUB),
        ],
    )
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    assert qa["tests_passed"] is False and qa["resolved"] is False
    assert qa["fail_to_pass"] == [NEW_TEST_ID]
    assert qa["failed_after"] == ["tests/test_calc.py::test_sub"]
    assert qa["pass_to_fail"] == ["tests/test_calc.py::test_sub"]


def test_non_pytest_command_is_graded_by_exit_code(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    body = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [("calc.py", CALC, FIXED)],
        test_command="python -c 'import calc; assert calc.add(2, 3) == 5'",
    )
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    assert qa["grading_method"] == "exit_code"
    assert qa["tests_passed"] is True and qa["resolved"] is True


def test_rerun_keeps_history_and_newest_wins(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    trace = submit_and_run(client, keys, worker, good_fix(buggy_repo))
    trace_id = trace["trace_id"]
    assert client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.alice).status_code == 403
    rerun = client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.reviewer)
    assert rerun.status_code == 202, rerun.text
    again = client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.admin).json()
    assert again["already_queued"] is True and again["job_id"] == rerun.json()["job_id"]
    assert worker.run_once()
    history = client.get(f"/api/traces/{trace_id}/qa/results", headers=keys.alice).json()
    assert len(history) == 2 and [h["latest"] for h in history] == [True, False]
    newest = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["qa_results"]
    assert newest["qa_result_id"] == history[0]["qa_result_id"] and newest["resolved"] is True


def test_grading_can_be_repeated_from_saved_logs(
    client, keys, worker, buggy_repo: BuggyRepo, settings: Settings
) -> None:
    from pathlib import Path

    from bugtrail.qa.grading import grade_logs

    qa = submit_and_run(client, keys, worker, good_fix(buggy_repo))["qa_results"]
    log_dir = Path(qa["log_dir"])
    for name in ("before/run.json", "before/junit.xml", "after/test_output.txt", "patch_report.json"):
        assert (log_dir / name).is_file(), name
    assert grade_logs(log_dir).fail_to_pass == qa["fail_to_pass"]


def test_registered_repository_config_gives_the_test_command(client, keys, worker, buggy_repo) -> None:
    """trace > registered repository (`POST /api/repos`) > settings default, loaded in the pipeline."""
    command = "python -m pytest -q tests/test_calc.py -k 'add or sub'"
    saved = client.post(
        "/api/repos",
        json={"url_prefix": buggy_repo.url, "test_command": command, "test_file_patterns": ["calc_checks/*"]},
        headers=keys.admin,
    )
    assert saved.status_code in (200, 201), saved.text
    trace = submit_and_run(client, keys, worker, good_fix(buggy_repo))
    qa = trace["qa_results"]
    assert qa["test_command"] == command and qa["resolved"] is True
    assert qa["pass_to_pass"] == ["tests/test_calc.py::test_sub"]  # -k deselected test_mul
    own = submit_and_run(
        client, keys, worker, {**good_fix(buggy_repo), "test_command": "python -m pytest -q"}
    )
    assert own["qa_results"]["test_command"] == "python -m pytest -q"
