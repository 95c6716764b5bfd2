"""The generated install script: old pins get one relaxed retry, an old pytest is upgraded, both noted."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from bugtrail.qa.environments.build import (
    LABEL_OUTCOME,
    NOTE_MARKER,
    PYTEST_COMPANIONS,
    BuildLog,
    BuildOutcome,
    install_script,
    outcome_label,
    read_outcome_label,
    relaxed_plan_requirements,
    relaxed_requirements,
    upgrade_steps,
)
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


def test_relaxing_keeps_pytest_to_the_commits_era():
    # An old suite's pins are what fail on today's Python, and that suite is the one today's pytest breaks.
    old = plan(["pytest==4.6.11", "numpy==1.16.0", "mock"]).model_copy(update={"pytest_below": 7})
    assert relaxed_plan_requirements(old) == ["pytest<7", "numpy", "mock"]
    bounded = plan(["pytest<8", "attrs"]).model_copy(update={"pytest_below": 8})
    assert relaxed_plan_requirements(bounded) == ["pytest<8", "attrs"]
    assert "requirements-relaxed.txt" not in install_script(bounded)  # nothing to relax: no retry
    assert relaxed_plan_requirements(plan(["pytest==4.6.11"])) == ["pytest"]  # today's era: no bound


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
    assert 'pip install -U "$spec" $also' in script and f"{NOTE_MARKER}pytest upgraded" in script


def _pytest_check(script: str) -> str:
    start = script.index("pytest_runs()")
    return script[start : script.index("\nfi\n", start) + 4]


@pytest.mark.parametrize("pytest_works", [True, False])
def test_the_pytest_check_upgrades_only_a_pytest_that_does_not_run(tmp_path: Path, pytest_works: bool):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # python -c lists the installed plugins; python -m pytest is the smoke run.
    listing = '[ "$1" = -c ] && { echo "py pytest-aiohttp pytest-asyncio"; exit 0; }'
    python = f"{listing}\nexit {0 if pytest_works else 1}"
    for name, body in (("python", python), ("pip", 'echo "pip $*"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    check = _pytest_check(install_script(plan(["pytest==6.1.2"])))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    run = subprocess.run(["sh", "-eu"], input=check, text=True, capture_output=True, env=env)
    assert run.returncode == 0, run.stderr
    assert ("pip install -U pytest py pytest-aiohttp pytest-asyncio" in run.stdout) is not pytest_works
    assert "pip install -U pytest\n" not in run.stdout  # the upgrade with companions worked: no second try
    note = f"{NOTE_MARKER}pytest upgraded (with: py pytest-aiohttp pytest-asyncio)"
    assert (note in run.stdout) is not pytest_works


def test_a_companion_that_will_not_upgrade_leaves_pytest_upgraded_alone(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = '[ "$1" = -c ] && { echo "gone-plugin"; exit 0; }\nexit 1'
    pip = 'echo "pip $*"; case "$*" in *gone-plugin*) exit 1;; esac'
    for name, body in (("python", python), ("pip", pip)):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    check = _pytest_check(install_script(plan(["pytest==6.1.2"])))
    run = subprocess.run(
        ["sh", "-eu"], input=check, text=True, capture_output=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}
    )
    assert run.returncode == 0, run.stderr
    assert "pip install -U pytest gone-plugin\npip install -U pytest\n" in run.stdout


def test_the_companions_are_index_installed_plugins_and_py(tmp_path: Path):
    # Run by this interpreter: all it lists is py or a pytest11 plugin, never pytest, never a local install.
    listed = subprocess.run(
        [sys.executable, "-c", PYTEST_COMPANIONS], capture_output=True, text=True, check=True
    )
    names = listed.stdout.split()
    assert "pytest" not in names and "bugtrail" not in names
    for name in names:
        if name == "py":
            continue
        dist = metadata.distribution(name)
        assert any(e.group == "pytest11" for e in dist.entry_points) and not dist.read_text("direct_url.json")
        assert any(r.split(";")[0].strip().startswith("pytest") for r in dist.requires or [])
    # hypothesis registers a pytest11 entry point but does not require pytest: a library, left alone.
    assert "hypothesis" not in names


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


def test_the_build_outcome_label_round_trips_and_a_broken_one_reads_as_nothing():
    outcome = BuildOutcome("sha256:x", 1.5, "3.11.2", ["version pins relaxed"], {"installed": ["pyyaml"]})
    assert read_outcome_label({LABEL_OUTCOME: outcome_label(outcome)}) == {
        "python_version": "3.11.2",
        "build_s": 1.5,
        "notes": ["version pins relaxed"],
        "inferred": {"installed": ["pyyaml"]},
    }
    assert read_outcome_label({LABEL_OUTCOME: "not json"}) == {}
    assert read_outcome_label({LABEL_OUTCOME: "[1]"}) == {}
    assert read_outcome_label(None) == {}


def test_a_project_with_extensions_gets_a_compiler_and_records_its_sources():
    with_c = EnvironmentPlan(
        source="detected",
        python_version="3.11",
        base_image="runner",
        packages=["pytest"],
        native_sources=["src/fast/_speedups.c", "src/fast/it's.h"],
    )
    script = install_script(with_c)
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    compiler = script.index("apt-get install -y -q --no-install-recommends gcc g++ libc6-dev python3-dev")
    assert compiler < script.index("pip install -e /workspace/repo")
    assert f"{NOTE_MARKER}a compiler and the Python headers installed" in script
    assert (
        "sha256sum -- src/fast/_speedups.c 'src/fast/it'\"'\"'s.h' > /opt/bugtrail/env/native-sources.sha256"
        in (script)
    )
    assert "apt-get" not in install_script(plan(["pytest"]))
    assert "native-sources" not in install_script(plan(["pytest"]))


def test_an_old_pytest_that_does_not_run_is_upgraded_one_major_at_a_time(tmp_path: Path):
    # The era's pytest 6 does not run with today's plugins; pytest 9 dropped what pytest-flake8 uses; 7 runs.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "installed"
    state.write_text("6")
    python = (
        f'[ "$1" = -c ] && {{ echo "pytest-flake8"; exit 0; }}\n[ "$(cat {state})" = 7 ] && exit 0\nexit 1'
    )
    pip = f'echo "pip $*"\ncase "$*" in *"pytest<8"*) echo 7 > {state};; *) echo 9 > {state};; esac'
    for name, body in (("python", python), ("pip", pip)):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    era = EnvironmentPlan(
        source="detected", python_version="3.11", base_image="r", packages=["pytest<7"], pytest_below=7
    )
    check = _pytest_check(install_script(era))
    run = subprocess.run(
        ["sh", "-eu"], input=check, text=True, capture_output=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}
    )
    assert run.returncode == 0, run.stderr
    assert "pip install -U pytest<8 pytest-flake8\n" in run.stdout
    assert "pytest<9" not in run.stdout and "pip install -U pytest pytest-flake8" not in run.stdout
    assert "did not run here; now pytest<8" in run.stdout
    assert upgrade_steps(7) == ["pytest<8", "pytest<9", "pytest"]
    assert upgrade_steps(None) == ["pytest"]
