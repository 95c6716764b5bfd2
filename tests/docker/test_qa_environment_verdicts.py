"""Environment failures are not verdicts, and odd exit codes are graded by test: real API, worker, containers.

- a test that imports a module the environment lacks fails in both runs: outcome error, error_kind
  environment, resolved null (before issue 11 this was stored as "completed, not resolved");
- a repository whose `addopts` demand 100% coverage: every test passes, pytest exits 1; graded from the
  per-test outcomes (resolved), the exit code explained. pytest-cov is not in the runner image, so the test
  builds a derived image with Debian's python3-pytest-cov once (cached by the runner image's id).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from bugtrail.config import Settings
from tests.support.buggy_repo import (
    CALC,
    FIXED,
    NEW_TEST,
    TESTS,
    BuggyRepo,
    buggy_repo_with,
    submit_and_run,
    trace_body,
)

COV_DOCKERFILE = """FROM {base}
USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pytest-cov \\
    && rm -rf /var/lib/apt/lists/*
USER runner
"""
UNTESTED = "\n\ndef div(a, b):\n    return a / b\n"  # keeps coverage below 100% whatever the tests do


@pytest.fixture(scope="session")
def cov_image(runner_image: str) -> str:
    """bugtrail-runner + pytest-cov, built once per runner image (about 30 s cold, instant when cached)."""
    import docker.errors

    from bugtrail.qa.docker_api import docker_client

    client = docker_client()
    try:
        base_id = client.images.get(runner_image).id.split(":")[-1]
        tag = f"bugtrail-test-pytest-cov:{base_id[:12]}"
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            context = io.BytesIO(COV_DOCKERFILE.format(base=runner_image).encode())
            # host network: the daemon has no bridge; apt needs the host's route (as qa.image does).
            client.images.build(fileobj=context, tag=tag, network_mode="host", rm=True, forcerm=True)
        return tag
    finally:
        client.close()


@pytest.fixture
def cov_repo(repos_dir: Path) -> BuggyRepo:
    files = {
        "calc.py": CALC + UNTESTED,
        "pytest.ini": "[pytest]\naddopts = --cov=calc --cov-fail-under=100 -v --color=yes\n",
    }
    return buggy_repo_with(repos_dir / "covered", files, "coverage threshold")


@pytest.fixture
def settings(settings: Settings, repos_dir: Path, cov_image: str) -> Settings:
    # The covered repository runs in the pytest-cov image (the settings map stands in for `bugtrail repos`).
    return settings.model_copy(update={"runner_image_map": {f"file://{repos_dir}/covered": cov_image}})


def test_missing_module_in_both_runs_is_an_environment_error(
    client, keys, worker, buggy_repo, database
) -> None:
    from bugtrail.db.models import WebhookDelivery
    from bugtrail.webhooks import repository as hooks

    with database.scope() as session:
        hooks.add_webhook(
            session, "https://hooks.example.com/qa", "s" * 20, ["qa.completed", "qa.failed"], "t"
        )
    needs_dependency = "import missing_dependency_for_bugtrail\n" + NEW_TEST
    body = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [("tests/test_calc.py", TESTS, needs_dependency), ("calc.py", CALC, FIXED)],
    )
    trace = submit_and_run(client, keys, worker, body)
    qa: dict[str, Any] = trace["qa_results"]
    assert qa["outcome"] == "error" and qa["error_kind"] == "environment", qa
    assert qa["resolved"] is None and qa["tests_passed"] is None
    assert trace["resolved"] is None and trace["status"] == "failed"
    assert "missing_dependency_for_bugtrail" in qa["error"] and "both runs" in qa["error"]
    assert qa["fail_to_pass"] == [] and qa["patch_exact"] is True and qa["schema"] == 3
    assert "ModuleNotFoundError" in qa["test_output"]  # the log tail comes with the reason
    assert qa["environment"]["image"] == qa["runner_image"]

    with database.scope() as session:  # the webhook says what kind of error it was
        payloads = [(d.event, d.payload) for d in session.query(WebhookDelivery).all()]
    assert [event for event, _ in payloads] == ["qa.failed"]
    assert payloads[0][1]["error_kind"] == "environment" and payloads[0][1]["resolved"] is None

    # Shown as such: the export filter finds it, the dashboard says it is no verdict on the fix.
    # (alice recorded no consent: an admin's internal export includes her trace.)
    export = client.get(
        "/api/export",
        params={"use": "internal", "outcome": "error", "error_kind": "environment"},
        headers=keys.admin,
    )
    assert export.status_code == 200 and trace["trace_id"] in export.text
    none = client.get(
        "/api/export", params={"use": "internal", "error_kind": "infrastructure"}, headers=keys.admin
    )
    assert none.status_code == 200 and trace["trace_id"] not in none.text


def test_coverage_threshold_is_graded_from_per_test_outcomes(client, keys, worker, cov_repo) -> None:
    body = trace_body(
        cov_repo.url,
        cov_repo.base_commit,
        [("tests/test_calc.py", TESTS, NEW_TEST), ("calc.py", CALC + UNTESTED, FIXED + UNTESTED)],
    )
    trace = submit_and_run(client, keys, worker, body)
    qa: dict[str, Any] = trace["qa_results"]
    assert qa["outcome"] == "completed", qa["error"]
    assert qa["runner_image"].startswith("bugtrail-test-pytest-cov:")
    assert qa["after"]["exit_code"] == 1  # every test passed; the coverage threshold failed the run
    assert qa["tests_passed"] is True and qa["resolved"] is True
    assert qa["fail_to_pass"] == ["tests/test_calc.py::test_add"]
    assert "coverage threshold" in qa["exit_code_note"]
