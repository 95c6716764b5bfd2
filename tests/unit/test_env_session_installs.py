"""Packages the developer pip-installed during the session join the environment plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments.plan import make_plan
from bugtrail.qa.environments.session_installs import session_installs
from bugtrail.wire import RecordedEnvironment
from tests.support.env_repos import plan_trace


def command(text: str, exit_code: int | None = 0) -> dict[str, object]:
    return {"command": text, "exit_code": exit_code, "output": ""}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pip install freezegun", ["freezegun"]),
        ("pip3 install -U 'hypothesis>=6' pytest-mock==3.14.0", ["hypothesis>=6", "pytest-mock==3.14.0"]),
        ("python -m pip install --quiet six", ["six"]),
        ("/home/me/.venv/bin/python3.11 -m pip install attrs", ["attrs"]),
        ("uv pip install 'requests[socks]'", ["requests[socks]"]),
        ("cd src && PIP_NO_INPUT=1 pip install toml; pytest -x", ["toml"]),
        ("sudo pip install -i https://mirror.example/simple pyyaml", ["pyyaml"]),
        ("pip install -r requirements-dev.txt -c constraints.txt", []),
        ("pip install -e . ./wheels/x.whl ../sibling", []),
        ("pip install --index-url=https://evil.example/simple click", ["click"]),
        ("pip download numpy", []),
        ("echo pip install nothing", []),
        ("pip install 'unbalanced", []),
    ],
)
def test_pip_install_commands_are_read(line: str, expected: list[str]) -> None:
    assert session_installs([command(line)])[0] == expected


def test_only_successful_commands_count_and_uninstall_takes_back() -> None:
    events = [
        command("pip install no-such-thing", exit_code=1),
        command("pip install interrupted", exit_code=None),
        command("pip install freezegun six"),
        command("pip uninstall -y six"),
    ]
    assert session_installs(events)[0] == ["freezegun"]


def test_urls_to_addresses_and_local_paths_are_refused_with_a_note() -> None:
    installed, notes = session_installs(
        [
            command(
                "pip install 'evil @ https://127.0.0.1:8443/evil.tar.gz' 'ok @ https://files.example.org/ok.whl'"
            )
        ]
    )
    assert installed == ["ok @ https://files.example.org/ok.whl"]
    assert len(notes) == 1 and "127.0.0.1" in notes[0]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", runner_image="bugtrail-runner:latest")


def test_recorded_plan_gains_what_the_session_installed(settings: Settings, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    recorded = RecordedEnvironment(python_version="3.11.7", packages=["pytest==8.3.2", "six==1.15.0"])
    events = [command("pip install freezegun==1.5.1 six==1.16.0"), command("pip install pkg")]
    (tree / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    choice = make_plan(settings, plan_trace(recorded, tuple(events)), None, tree)
    assert choice.plan.source == "recorded"
    assert choice.plan.packages == ["pytest==8.3.2", "six==1.16.0", "freezegun==1.5.1"]  # not the project
    assert any("freezegun==1.5.1: installed during the session" in note for note in choice.plan.notes)


def test_a_plan_that_found_nothing_still_builds_what_the_session_installed(
    settings: Settings, tmp_path: Path
):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test_x.py").write_text("def test_x():\n    pass\n")
    plain = make_plan(settings, plan_trace(), None, tree)
    assert plain.plan.source == "default" and not plain.needs_build
    choice = make_plan(settings, plan_trace(None, (command("pip install freezegun"),)), None, tree)
    assert choice.needs_build and "freezegun" in choice.plan.packages
