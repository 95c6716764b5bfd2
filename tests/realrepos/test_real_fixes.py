"""Real public bug fixes graded by QA: detected environments, recorded ones, and broken ones.

Each trace is the fix commit replayed: its test-file edit first, then its source edit(s), one file per edit
event, with the repository's own narrow test command. A valid fix must come out `resolved` with the test the
fix made pass; an environment that cannot work must come out `outcome: error, error_kind: environment`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.real_cases import CASES, CASES_BY_NAME, DECLARED_CASES, RealCase, file_url
from tests.support.real_traces import (
    QaServer,
    describe,
    developer_checkout,
    developer_venv,
    mirror_or_fail,
    record_fix,
    recorder_env,
    submit,
    trace_from_history,
    wait_for_qa,
)

IDS = [case.name for case in CASES]
# The recorded path (a host virtualenv per case) is kept to CASES, to hold CI time down.
DETECTED_CASES = (*CASES, *DECLARED_CASES)
DETECTED_IDS = [case.name for case in DETECTED_CASES]


def qa_of(server: QaServer, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return wait_for_qa(server.url, key, submit(server.url, key, body))


def assert_resolved(case: RealCase, trace: dict[str, Any], source: str) -> dict[str, Any]:
    qa: dict[str, Any] = trace["qa_results"]
    assert qa["outcome"] == "completed", describe(qa)
    assert qa["resolved"] is True, describe(qa)
    assert qa["fail_to_pass"] == list(case.fail_to_pass), describe(qa)
    assert qa["pass_to_fail"] == [], describe(qa)
    # arrow's test_anchorage_dst fails before and after with python-dateutil 2.9+: not the fix's doing.
    assert qa["failed_after"] == list(case.failing_both), describe(qa)
    assert qa["tests_passed"] is (not case.failing_both), describe(qa)
    env = qa["environment"]
    assert env["source"] == source, describe(qa)
    assert env["image"] and env["plan"]["source"] == source, env
    assert env["python_version"] and env["python_version"].startswith("3."), env
    return qa


@pytest.mark.parametrize("case", DETECTED_CASES, ids=DETECTED_IDS)
def test_case_matches_the_repository_history(case: RealCase) -> None:
    mirror = mirror_or_fail(case)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(mirror), *args], capture_output=True, text=True, check=True
        ).stdout

    assert git("rev-parse", f"{case.fix_commit}^").strip() == case.base_commit
    changed = set(git("diff", "--name-only", case.base_commit, case.fix_commit).split())
    assert changed == {*case.test_files, *case.source_files}


@pytest.mark.parametrize("case", DETECTED_CASES, ids=DETECTED_IDS)
def test_fix_submitted_without_environment_is_resolved(
    case: RealCase, qa_server: QaServer, dev_key: str
) -> None:
    mirror_or_fail(case)
    body = trace_from_history(case)
    assert "environment" not in body
    trace = qa_of(qa_server, dev_key, body)
    qa = assert_resolved(case, trace, "detected")
    assert [r["is_test"] for r in qa["patch_report"]] == [True] * len(case.test_files) + [False] * len(
        case.source_files
    ), qa["patch_report"]


def test_second_trace_of_a_repository_reuses_its_environment(qa_server: QaServer, dev_key: str) -> None:
    case = CASES_BY_NAME["cachetools"]
    mirror_or_fail(case)
    first = qa_of(qa_server, dev_key, trace_from_history(case))["qa_results"]
    second = qa_of(qa_server, dev_key, trace_from_history(case))["qa_results"]
    assert second["resolved"] is True, describe(second)
    assert second["environment"]["cache_hit"] is True, second["environment"]
    assert second["environment"]["image"] == first["environment"]["image"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fix_recorded_in_the_developers_virtualenv_is_resolved(
    case: RealCase, qa_server: QaServer, dev_key: str, tmp_path: Path
) -> None:
    mirror_or_fail(case)
    checkout = developer_checkout(case, tmp_path / case.name)
    venv = developer_venv(case, checkout, tmp_path / "venv")
    trace_id = record_fix(case, checkout, recorder_env(qa_server.url, dev_key, tmp_path / "home", venv))
    trace = wait_for_qa(qa_server.url, dev_key, trace_id)

    recorded = trace["environment"]
    assert recorded is not None, "bugtrail start recorded no environment"
    assert recorded["python_version"].startswith("3.11"), recorded
    assert any(line.lower().startswith("pytest==") for line in recorded["packages"]), recorded["packages"]
    assert case.name in [p.lower() for p in recorded["project"]], recorded
    assert not any(
        line.lower().startswith(f"{case.name}==") or f"egg={case.name}" in line.lower()
        for line in recorded["packages"]
    ), recorded["packages"]
    assert_resolved(case, trace, "recorded")


# --- environments that cannot work: an error of kind "environment", never "not resolved" --------------------


def scratch_clone(case: RealCase, scratch_repos: Path, label: str) -> str:
    """A bare clone of the mirror under its own URL, so a repo config for it touches no other test."""
    target = scratch_repos / f"{case.name}-{label}.git"
    if not target.exists():
        subprocess.run(["git", "clone", "-q", "--bare", str(case.mirror), str(target)], check=True)
    return file_url(target)


def configure(server: QaServer, admin_key: str, config: dict[str, Any]) -> None:
    done = httpx.post(
        f"{server.url}/api/repos", json=config, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    )
    assert done.status_code in (200, 201), done.text


def assert_environment_error(trace: dict[str, Any]) -> dict[str, Any]:
    qa: dict[str, Any] = trace["qa_results"]
    assert qa["outcome"] == "error", describe(qa)
    assert qa["error_kind"] == "environment", describe(qa)
    assert qa["resolved"] is None and qa["tests_passed"] is None, describe(qa)
    assert trace["resolved"] is None, "the trace must not be filed as an unresolved fix"
    return qa


def test_ready_image_without_the_dependencies_is_an_environment_error(
    qa_server: QaServer, dev_key: str, admin_key: str, scratch_repos: Path, runner_image: str
) -> None:
    case = CASES_BY_NAME["freezegun"]  # imports python-dateutil at collection
    mirror_or_fail(case)
    url = scratch_clone(case, scratch_repos, "bare-image")
    configure(qa_server, admin_key, {"url_prefix": url, "image": runner_image})
    qa = assert_environment_error(qa_of(qa_server, dev_key, trace_from_history(case, repo_url=url)))
    assert "dateutil" in (qa["error"] or "") + (qa["test_output"] or ""), describe(qa)


def test_install_command_that_fails_is_an_environment_error(
    qa_server: QaServer, dev_key: str, admin_key: str, scratch_repos: Path
) -> None:
    case = CASES_BY_NAME["humanize"]
    mirror_or_fail(case)
    url = scratch_clone(case, scratch_repos, "bad-install")
    message = "bugtrail-test: this install cannot work"
    configure(
        qa_server,
        admin_key,
        {"url_prefix": url, "install_commands": [f"python -c \"raise SystemExit('{message}')\""]},
    )
    qa = assert_environment_error(qa_of(qa_server, dev_key, trace_from_history(case, repo_url=url)))
    assert message in (qa["environment"] or {}).get("build_log_tail", "") + (qa["error"] or ""), describe(qa)
