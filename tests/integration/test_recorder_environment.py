"""`bugtrail start` records the developer's environment: a real virtualenv with a package from PyPI and an
editable install of the project under test, through the real CLI against a real `bugtrail serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bugtrail.sdk.environment import capture_environment, find_interpreter
from tests.support.recorder import bugtrail, cli_env, developer_key, session_trace_id
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "Tiny_Proj"
version = "0.1"

[tool.setuptools]
packages = ["tinyproj"]
"""


def _venv_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work tree whose .venv has six from PyPI and the project itself installed editable."""
    repo = make_repo(
        tmp_path_factory.mktemp("project") / "tinyproj",
        {
            "pyproject.toml": PYPROJECT,
            "tinyproj/__init__.py": "VALUE = 1\n",
            ".gitignore": ".venv/\n*.egg-info/\n",
        },
    )
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    env = _venv_env()
    subprocess.run([*pip, "six==1.16.0", "wheel"], check=True, timeout=300, env=env)
    subprocess.run([*pip, "--no-build-isolation", "-e", str(repo)], check=True, timeout=300, env=env)
    return repo


def _pip_freeze(python: Path) -> list[str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True, env=_venv_env()
    ).stdout
    return [line for line in out.splitlines() if line and not line.startswith(("#", "-e "))]


def _recorded(server: BugtrailServer, key: str, repo: Path, env: dict[str, str], *start_args: str) -> dict:
    started = bugtrail(repo, env, "start", "--bug", "VALUE is wrong", *start_args)
    assert started.returncode == 0, started.stderr.decode()
    trace_id = session_trace_id(repo)
    finished = bugtrail(repo, env, "finish")
    assert finished.returncode == 0, finished.stderr.decode()
    response = httpx.get(f"{server.url}/api/traces/{trace_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return {"trace": response.json(), "stdout": started.stdout.decode(), "stderr": started.stderr.decode()}


def test_start_records_the_work_trees_virtualenv(
    server: BugtrailServer, project: Path, tmp_path: Path
) -> None:
    key = developer_key(server, "erin")
    env = cli_env(server.url, key, tmp_path)
    env.pop("VIRTUAL_ENV", None)  # found as the work tree's .venv, not the recorder's interpreter
    venv_python = project / ".venv" / "bin" / "python"
    version = subprocess.run(
        [str(venv_python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    result = _recorded(server, key, project, env)
    environment = result["trace"]["environment"]
    assert environment["python_version"] == version
    assert environment["implementation"] == "CPython" and environment["platform"]
    assert "six==1.16.0" in environment["packages"]
    # Named as its metadata spells it (setuptools writes "Tiny-Proj"), matched to pyproject's "Tiny_Proj".
    assert [name.lower().replace("_", "-") for name in environment["project"]] == ["tiny-proj"], (
        "the editable project is named, not listed as a package"
    )
    assert not any("tiny" in line.lower() for line in environment["packages"])
    assert not any(line.startswith(("fastapi==", "pydantic==")) for line in environment["packages"]), (
        "the recorder's own interpreter was described instead of the developer's"
    )
    # Exactly what pip freeze prints for that interpreter (less the project; the checkout's own metadata
    # can be on PYTHONPATH when the recorder runs from a source tree).
    recorded = [line for line in environment["packages"] if not line.startswith("bugtrail")]
    assert recorded == _pip_freeze(venv_python)
    assert f"Python {version}" in result["stdout"]


def test_virtual_env_wins_and_opting_out_records_nothing(
    server: BugtrailServer, project: Path, tmp_path: Path
) -> None:
    key = developer_key(server, "fred")
    env = cli_env(server.url, key, tmp_path)
    env["VIRTUAL_ENV"] = str(project / ".venv")
    other = make_repo(tmp_path / "other", {"README": "x\n"})  # no .venv of its own: VIRTUAL_ENV decides
    environment = _recorded(server, key, other, env)["trace"]["environment"]
    assert "six==1.16.0" in environment["packages"]
    assert environment["project"] == [], "Tiny_Proj is not this work tree's project"
    assert any(line.startswith("-e ") and line.endswith("tinyproj") for line in environment["packages"])

    assert _recorded(server, key, other, env, "--no-environment")["trace"]["environment"] is None


def test_a_broken_interpreter_never_fails_start(server: BugtrailServer, tmp_path: Path) -> None:
    key = developer_key(server, "gus")
    env = cli_env(server.url, key, tmp_path)
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    result = _recorded(server, key, repo, env, "--python", str(tmp_path / "no-such-python"))
    environment = result["trace"]["environment"]
    assert environment["packages"] == [] and environment["python_version"] is None
    assert "could not run" in environment["notes"][0]
    assert "environment: could not run" in result["stderr"]


def test_a_hanging_interpreter_is_cut_off_with_a_note(tmp_path: Path) -> None:
    hanging = tmp_path / "python"
    hanging.write_text("#!/bin/sh\nsleep 30\n")
    hanging.chmod(0o755)
    started = time.monotonic()
    environment = capture_environment(python=str(hanging), timeout=0.5)
    assert time.monotonic() - started < 5
    assert environment["packages"] == [] and "within 0.5 s" in environment["notes"][0]


def test_interpreter_search_order(tmp_path: Path) -> None:
    def fake_python(where: Path) -> Path:
        where.mkdir(parents=True)
        python = where / "python"
        python.write_text("#!/bin/sh\n")
        python.chmod(0o755)
        return python

    tree = tmp_path / "tree"
    path_python = fake_python(tmp_path / "bin")
    assert find_interpreter(tree, {"PATH": str(tmp_path / "bin")}) == str(path_python)
    plain_venv = fake_python(tree / "venv" / "bin")
    assert find_interpreter(tree, {"PATH": str(tmp_path / "bin")}) == str(plain_venv)
    dot_venv = fake_python(tree / ".venv" / "bin")
    assert find_interpreter(tree, {"PATH": str(tmp_path / "bin")}) == str(dot_venv)
    active = fake_python(tmp_path / "active" / "bin")
    environ = {"PATH": str(tmp_path / "bin"), "VIRTUAL_ENV": str(tmp_path / "active")}
    assert find_interpreter(tree, environ) == str(active)
    assert find_interpreter(None, {"PATH": str(tmp_path / "empty")}) is None


def test_sdk_client_sends_a_captured_environment(
    server: BugtrailServer, project: Path, tmp_path: Path
) -> None:
    from bugtrail import Client
    from bugtrail import capture_environment as exported

    key = developer_key(server, "hana")
    environment = exported(python=str(project / ".venv" / "bin" / "python"), work_tree=project)
    with Client(server.url, api_key=key, spool_path=tmp_path / "spool.sqlite3") as client:
        trace_id = client.create_trace(
            repo_url="https://github.com/org/tinyproj", bug_description="VALUE", environment=environment
        )
        assert client.pending() == 0
        stored = client.get_trace(trace_id)["environment"]
    assert stored["packages"] == environment["packages"] and "six==1.16.0" in stored["packages"]
    assert stored["captured_by"].startswith("bugtrail ")
