"""The Dockerfiles are package data, so `bugtrail runner build-image` works from a wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = ROOT / "src" / "bugtrail" / "qa" / "dockerfiles"


@pytest.mark.slow
def test_wheel_contains_the_dockerfiles(tmp_path: Path):
    # A copy of what the build reads, so its build/ and egg-info never land in the working tree.
    source = tmp_path / "src-copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    done = subprocess.run([*command, "-w", str(tmp_path), "."], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wheel = zipfile.ZipFile(next(tmp_path.glob("bugtrail-*.whl")))
    for name in ("runner.Dockerfile", "env.Dockerfile", "entry.sh", "install_inferred.py"):
        assert f"bugtrail/qa/dockerfiles/{name}" in wheel.namelist()
    runner = wheel.read("bugtrail/qa/dockerfiles/runner.Dockerfile").decode()
    assert "/opt/bugtrail/venv" in runner and "python3-pytest" not in runner


def test_docker_runner_dockerfile_is_the_package_data_file():
    link = ROOT / "docker" / "runner" / "Dockerfile"
    assert link.resolve() == (DOCKERFILES / "runner.Dockerfile").resolve()
