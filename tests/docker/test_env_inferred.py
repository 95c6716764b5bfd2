"""Inferred test needs against the real daemon and PyPI: a repository that declares nothing still gets what
its tests import (six) and the plugin its fixture needs (pytest-mock);
a wrong guess is a note, not a failure."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.environments import prepare_environment
from bugtrail.qa.runner import run_phase
from tests.support.env_repos import checkout_tree, plain_repo, run_tests, trace_for

COMMAND = "python -m pytest -q tests"
# A module nobody publishes: its install fails, the build goes on.
NO_SUCH = "bugtrail_no_such_distribution_7f3a"
TESTS = {
    "tests/test_uses_six.py": (
        "import iniconfig  # pytest's own dependency: already importable, never reinstalled\n"
        "import six\n\n\n"
        "def test_six(mocker):\n"
        "    fake = mocker.Mock(return_value=six.text_type('ok'))\n"
        "    assert fake() == 'ok' and iniconfig\n"
    ),
    "tests/test_wrong_guess.py": (
        "import pytest\n\n\n"
        "@pytest.mark.skip(reason='needs a module nobody publishes')\n"
        f"def test_never():\n    import {NO_SUCH}  # noqa: F401\n"
    ),
}


@pytest.fixture
def client() -> Iterator[object]:
    client = docker_client()
    yield client
    client.close()


def test_undeclared_imports_and_fixture_plugins_are_installed(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object
):
    repo = repos_dir / "undeclared"
    commit = plain_repo(repo, TESTS)  # no pyproject, setup.py or requirements: nothing declared
    trace = trace_for(repo, commit)
    mirror, tree = checkout_tree(settings, trace, tmp_path / "tree")
    prepared = prepare_environment(settings, trace, None, tree, mirror, tmp_path / "logs", COMMAND)
    try:
        assert prepared.error is None, prepared.info.build_log_tail
        info = prepared.info
        assert info.source == "default" and info.plan is not None and info.cache_hit is False
        assert [p.distribution for p in info.plan.inferred] == [
            NO_SUCH.replace("_", "-"),
            "iniconfig",
            "pytest-mock",
            "six",
        ]
        assert sorted(info.inferred_installed) == ["pytest-mock", "six"]
        assert info.inferred_present == ["iniconfig"]
        assert info.inferred_failed == [NO_SUCH.replace("_", "-")]
        build_log = (tmp_path / "logs" / "env" / "build.log").read_text()
        assert f"{NO_SUCH.replace('_', '-')} could not be installed" in build_log
        assert "iniconfig is already importable" in build_log

        output = run_tests(settings, client, repo, commit, prepared.image, tmp_path / "run", COMMAND)
        assert "1 passed, 1 skipped" in output

        again = prepare_environment(settings, trace, None, tree, mirror, tmp_path / "logs-2", COMMAND)
        assert again.info.cache_hit is True and again.image == prepared.image
        assert sorted(again.info.inferred_installed) == ["pytest-mock", "six"]  # from the cache index
    finally:
        subprocess.run(["docker", "rmi", "-f", prepared.image], capture_output=True, check=False)


def test_without_inference_the_same_tests_error_at_collection(
    settings: Settings, repos_dir: Path, tmp_path: Path, client: object
):
    """The baseline: with inference off the default plan runs the bare runner image and collection fails."""
    repo = repos_dir / "undeclared-off"
    commit = plain_repo(repo, {**TESTS, "NONCE": uuid.uuid4().hex})
    trace = trace_for(repo, commit)
    off = settings.model_copy(update={"env_infer_sources": []})
    mirror, tree = checkout_tree(off, trace, tmp_path / "tree")
    prepared = prepare_environment(off, trace, None, tree, mirror, tmp_path / "logs", COMMAND)
    assert prepared.error is None and prepared.image == settings.runner_image
    assert prepared.info.plan is not None and prepared.info.plan.inferred == []
    _, scratch_tree = checkout_tree(off, trace, tmp_path / "run" / "repo")
    result = run_phase(
        off,
        client,
        phase="after",
        scratch=tmp_path / "run",
        command=COMMAND,
        image=prepared.image,
        log_dir=tmp_path / "run-logs",
        readonly_mounts=[mirror],
    )
    output = (tmp_path / "run-logs" / "test_output.txt").read_text()
    assert result.exit_code != 0 and "No module named 'six'" in output, output
    assert scratch_tree.is_dir()
