"""The generated install script: old pins get one relaxed retry, an old pytest is upgraded, both noted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bugtrail.qa.environments.build import NOTE_MARKER, BuildLog, install_script, relaxed_requirements
from bugtrail.qa.environments.schemas import EnvironmentPlan


def plan(packages: list[str]) -> EnvironmentPlan:
    return EnvironmentPlan(source="detected", python_version="3.11", base_image="runner", packages=packages)


def test_relaxing_drops_versions_and_keeps_names_extras_markers_and_urls():
    lines = [
        "pytest==4.6.11",
        'attrs[tests,dev]>=19.1,<20 ; python_version >= "3"',
        "six",
        "pkg @ https://example.org/pkg-1.0-py3-none-any.whl",
        "not a requirement ===",
    ]
    assert relaxed_requirements(lines) == [
        "pytest",
        'attrs[dev,tests]; python_version >= "3"',
        "six",
        "pkg @ https://example.org/pkg-1.0-py3-none-any.whl",
        "not a requirement ===",
    ]


def test_pinned_plan_retries_relaxed_and_says_so():
    script = install_script(plan(["pytest==4.6.11"]))
    assert "if ! pip install -r /opt/bugtrail/env/requirements.txt; then" in script
    assert "pip install -r /opt/bugtrail/env/requirements-relaxed.txt" in script
    assert f"{NOTE_MARKER}version pins relaxed" in script


def test_unpinned_plan_has_no_retry_and_a_missing_package_still_fails():
    script = install_script(plan(["iniconfig", "six"]))
    assert "requirements-relaxed.txt" not in script
    assert "\npip install -r /opt/bugtrail/env/requirements.txt\n" in script


def test_script_is_valid_sh_and_checks_pytest_after_every_install():
    script = install_script(plan(["pytest==6.1.2"]))
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    assert script.index("pip install -e /workspace/repo") < script.index("if ! pytest_runs; then")
    assert "pip install -U pytest" in script and f"{NOTE_MARKER}pytest upgraded" in script


def _pytest_check(script: str) -> str:
    start = script.index("pytest_runs()")
    return script[start : script.index("\nfi\n", start) + 4]


@pytest.mark.parametrize("pytest_works", [True, False])
def test_the_pytest_check_upgrades_only_a_pytest_that_does_not_run(tmp_path: Path, pytest_works: bool):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("python", f"exit {0 if pytest_works else 1}"), ("pip", 'echo "pip $*"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    check = _pytest_check(install_script(plan(["pytest==6.1.2"])))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    run = subprocess.run(["sh", "-eu"], input=check, text=True, capture_output=True, env=env)
    assert run.returncode == 0, run.stderr
    assert ("pip install -U pytest" in run.stdout) is not pytest_works
    assert (f"{NOTE_MARKER}pytest upgraded" in run.stdout) is not pytest_works


def test_build_log_collects_notes_once_and_bounded(tmp_path: Path):
    log = BuildLog(tmp_path / "build.log")
    log.write(f"{NOTE_MARKER}version pins relaxed\n{NOTE_MARKER}version pins relaxed\n")
    log.write("".join(f"{NOTE_MARKER}note {i} {'x' * 1000}\n" for i in range(50)))
    log.close()
    assert log.notes[0] == "version pins relaxed" and log.notes.count("version pins relaxed") == 1
    assert len(log.notes) == 20 and all(len(note) <= 300 for note in log.notes)


def test_the_pytest_version_is_printed_outside_the_checkout():
    # In the checkout pytest would load the repository's conftest.py: one that cannot import must not fail
    # the build (under `filterwarnings = error` the config warning is an error); the test run reports it.
    script = install_script(plan(["pytest"]))
    assert "(cd / && python -m pytest --version)" in script
    assert "\npython -m pytest --version" not in script
