"""`pip install bugtrail` (no extras) into a fresh virtualenv: the recorder works against a real server,
and none of the server's heavy dependencies come with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.recorder import (
    BUGGY,
    TEST,
    cli_env,
    developer_key,
    get_trace,
    run_session,
    session_trace_id,
)
from tests.support.repos import make_repo
from tests.support.server import ROOT, BugtrailServer

pytestmark = pytest.mark.slow

SERVER_ONLY = ("fastapi", "uvicorn", "sqlalchemy", "docker", "openai", "pyarrow", "httpx")


def outside_env() -> dict[str, str]:
    """This process's environment minus what points Python at this checkout or at a BUGTRAIL_* setting."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("BUGTRAIL_")}


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with this checkout pip-installed, no extras; its bin/ directory."""
    root = tmp_path_factory.mktemp("plain")
    # What a source distribution holds, copied so pip's in-tree build leaves nothing in the checkout.
    source = root / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", str(source), env=outside_env())
    return venv / "bin"


def test_plain_install_records_a_session_without_server_dependencies(
    plain_install: Path, server: BugtrailServer, tmp_path: Path
) -> None:
    probe = "import importlib.util, json; print(json.dumps([m for m in %r if importlib.util.find_spec(m)]))"
    installed = run(plain_install / "python", "-c", probe % (SERVER_ONLY,), cwd=tmp_path, env=outside_env())
    assert json.loads(installed.stdout) == []

    key = developer_key(server, "lena")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": TEST})
    env = cli_env(server.url, key, tmp_path)
    del env["PYTHONPATH"]  # the venv's installed copy, not this checkout's src/
    steps = run_session(repo, env, program=[str(plain_install / "bugtrail")])
    assert [rc for _, rc in steps] == [0, 1, 0, 0, 0, 0], steps

    trace = get_trace(server, key, session_trace_id(repo))
    assert trace["developer_id"] == "lena" and trace["status"] != "pending"
    assert [e["type"] for e in trace["events"]].count("command") == 2
    assert any(e["details"].get("reasoning_type") == "hypothesis" for e in trace["events"])


def test_a_server_verb_without_the_extra_says_what_to_install(plain_install: Path, tmp_path: Path) -> None:
    env = outside_env()
    env["BUGTRAIL_DATA_DIR"] = str(tmp_path / "data")
    for verb in (["serve"], ["keys", "list"], ["worker"]):
        done = subprocess.run(
            [str(plain_install / "bugtrail"), *verb], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 2, (verb, done.stdout, done.stderr)
        assert "pip install 'bugtrail[server]'" in done.stderr and "Traceback" not in done.stderr
    help_text = run(plain_install / "bugtrail", "--help", env=env).stdout
    assert "start" in help_text and "serve" in help_text
