"""entry.sh of environment images: generated files restored, edited extension sources rebuilt in place."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from bugtrail.qa.environments.build import DOCKERFILES


def run_entry(tmp_path: Path, edit: bool) -> subprocess.CompletedProcess[str]:
    """entry.sh with its fixed paths pointed at a temp dir; `python` is a stub that logs its arguments."""
    env_dir, repo, bin_dir = tmp_path / "env", tmp_path / "repo", tmp_path / "bin"
    for directory in (env_dir, repo, bin_dir):
        directory.mkdir()
    (repo / "setup.py").write_text("")
    (repo / "_speedups.c").write_text("int base;\n")
    digest = hashlib.sha256(b"int base;\n").hexdigest()
    (env_dir / "native-sources.sha256").write_text(f"{digest}  _speedups.c\n")
    (env_dir / "pretend-version").write_text("1.2.3\n")
    if edit:
        (repo / "_speedups.c").write_text("int fixed;\n")
    stub = bin_dir / "python"
    stub.write_text(f'#!/bin/sh\necho "$PWD $SETUPTOOLS_SCM_PRETEND_VERSION $*" >> {tmp_path}/python.log\n')
    stub.chmod(0o755)
    script = (DOCKERFILES / "entry.sh").read_text()
    script = script.replace("/opt/bugtrail/env", str(env_dir)).replace("/workspace/repo", str(repo))
    (tmp_path / "entry.sh").write_text(script)
    return subprocess.run(
        ["sh", str(tmp_path / "entry.sh"), "echo", "tests ran"],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    )


def test_edited_extension_sources_are_rebuilt_in_place_before_the_tests(tmp_path: Path):
    done = run_entry(tmp_path, edit=True)
    assert done.stdout == "tests ran\n"
    assert "the extension sources were edited; rebuilding them in place" in done.stderr
    log = (tmp_path / "python.log").read_text()
    assert (
        log == f"{tmp_path / 'repo'} 1.2.3 setup.py -q build_ext --inplace --force --build-temp "
        "/tmp/bugtrail-build-ext\n"
    )


def test_unedited_extension_sources_are_not_rebuilt(tmp_path: Path):
    done = run_entry(tmp_path, edit=False)
    assert done.stdout == "tests ran\n" and "rebuilding" not in done.stderr
    assert not (tmp_path / "python.log").exists()
