"""Plan choice (recorded > configured > detected > default), Python suite choice and the cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments.build import install_script
from bugtrail.qa.environments.cache import CacheEntry, EnvCache, EnvCacheError, cache_key
from bugtrail.qa.environments.plan import make_plan, recorded_packages
from bugtrail.qa.image import choose_suite, runner_image_for_suite
from bugtrail.repos.schemas import RepoConfig
from bugtrail.wire import RecordedEnvironment
from tests.support.env_repos import plan_trace


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", runner_image="bugtrail-runner:latest")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\n[project.optional-dependencies]\ntest = ["iniconfig"]\n'
        "[tool.pytest.ini_options]\naddopts = '--cov=pkg'\n"
    )
    return tree


def test_recorded_environment_wins_and_is_filtered(settings: Settings, project: Path):
    environment = RecordedEnvironment(
        python_version="3.11.7",
        packages=[
            "attrs==23.1.0",
            "pkg==1.0",  # the project itself
            "-e git+https://example.com/pkg.git@abc#egg=pkg",
            "local @ file:///home/dev/local",
            "pip==23.0",
            "--index-url https://evil.example/simple",
            "pytest==8.3.2",
        ],
        project=["pkg"],
    )
    choice = make_plan(settings, plan_trace(environment), None, project)
    plan = choice.plan
    assert plan.source == "recorded"
    assert plan.packages == ["attrs==23.1.0", "pytest==8.3.2"]  # pytest pinned: not added again
    assert plan.install_project and plan.python_version == "3.11"
    assert choice.suite == "bookworm" and choice.python_requested == "3.11.7" and choice.needs_build
    assert any("installed from the checkout" in note for note in plan.notes)
    assert any("local path" in note for note in plan.notes)


def test_configured_image_means_no_build(settings: Settings, project: Path):
    config = RepoConfig(url_prefix="https://github.com/example/", image="my-ready:1")
    choice = make_plan(settings, plan_trace(), config, project)
    assert choice.ready_image == "my-ready:1" and not choice.needs_build
    assert choice.plan.source == "configured"


def test_configured_commands_and_python_choose_suite(settings: Settings, project: Path):
    config = RepoConfig(
        url_prefix="https://github.com/example/",
        install_commands=["pip install -e .[test]"],
        python_version="3.13",
    )
    choice = make_plan(settings, plan_trace(), config, project)
    plan = choice.plan
    assert plan.source == "configured" and plan.commands == ["pip install -e .[test]"]
    assert not plan.install_project  # the admin's commands install it
    assert "pytest-cov" in plan.packages and "pytest" in plan.packages  # implied plugin still added
    assert choice.suite == "trixie" and plan.base_image == "bugtrail-runner:trixie"
    assert plan.python_version == "3.13"


def test_detected_plan_adds_pytest_plugins_and_build_requires(settings: Settings, project: Path):
    choice = make_plan(settings, plan_trace(), None, project)
    plan = choice.plan
    assert plan.source == "detected" and plan.install_project
    assert plan.packages[0] == "pytest"
    assert {"iniconfig", "pytest-cov", "setuptools>=40.8.0"} <= set(plan.packages)
    assert choice.dependency_files == ["pyproject.toml"]
    assert any("pytest-cov" in note and "--cov=pkg" in note for note in plan.notes)


def test_plan_of_a_project_with_c_extensions_carries_their_sources(settings: Settings, project: Path):
    assert make_plan(settings, plan_trace(), None, project).plan.native_sources == []
    (project / "setup.py").write_text(
        "from setuptools import Extension, setup\nsetup(ext_modules=[Extension('pkg._c', ['pkg/_c.c'])])\n"
    )
    (project / "pkg").mkdir()
    (project / "pkg" / "_c.c").write_text("int x;\n")
    plan = make_plan(settings, plan_trace(), None, project).plan
    assert plan.native_sources == ["pkg/_c.c"]
    assert "apt-get install" in install_script(plan)


def test_default_plan_uses_the_runner_image(settings: Settings, tmp_path: Path):
    tree = tmp_path / "plain"
    tree.mkdir()
    (tree / "test_x.py").write_text("def test_x():\n    assert True\n")
    choice = make_plan(settings, plan_trace(), None, tree)
    assert choice.plan.source == "default" and not choice.needs_build
    assert choice.plan.base_image == "bugtrail-runner:latest"


def test_recorded_python_without_packages_still_picks_the_suite(settings: Settings, tmp_path: Path):
    choice = make_plan(settings, plan_trace(RecordedEnvironment(python_version="3.9.18")), None, tmp_path)
    assert choice.suite == "bullseye" and choice.plan.source == "default"


def test_recorded_packages_keeps_safe_vcs_pins():
    sha = "0123456789abcdef0123456789abcdef01234567"
    kept, notes = recorded_packages(
        [f"x @ git+https://example.com/x.git@{sha}", "y @ git+https://e.com/y"], set()
    )
    assert kept == [f"x @ git+https://example.com/x.git@{sha}"] and len(notes) == 1


@pytest.mark.parametrize(
    "line",
    [
        "evil @ https://127.0.0.1:8443/evil-1.0.tar.gz",
        "evil @ https://[::1]/evil-1.0.tar.gz",
        "evil @ https://localhost/evil-1.0.tar.gz",
        "evil @ https://build-cache.internal/evil-1.0.tar.gz",
        "evil @ https://intranet/evil-1.0.tar.gz",
        f"evil @ git+https://10.0.0.5/o/evil.git@{'a' * 40}",
        f"evil @ git+https://db.local/o/evil.git@{'a' * 40}",
    ],
)
def test_recorded_urls_to_addresses_or_local_names_are_not_installed(line: str):
    # The build has the worker host's network: a developer must not point it at loopback or the LAN.
    kept, notes = recorded_packages([line, "six==1.16.0"], set())
    assert kept == ["six==1.16.0"]
    assert len(notes) == 1 and "evil: not installed" in notes[0]


def test_recorded_urls_to_public_hosts_are_kept():
    lines = [
        "a @ https://files.example.org/a-1.0-py3-none-any.whl",
        f"b @ git+https://github.com/o/b.git@{'b' * 40}",
    ]
    assert recorded_packages(lines, set()) == (lines, [])


@pytest.mark.parametrize(
    ("requested", "suite", "noted"),
    [
        ("3.11.7", "bookworm", False),
        ("3.9", "bullseye", False),
        ("3.13.1", "trixie", False),
        ("3.10.4", "bookworm", True),  # tie between 3.9 and 3.11: the newer
        ("3.12", "trixie", True),  # tie between 3.11 and 3.13: the newer
        ("3.7", "bullseye", True),
        ("3.14", "trixie", True),
        ("not a version", "bookworm", True),
        (None, "bookworm", False),
    ],
)
def test_nearest_python_suite(requested: str | None, suite: str, noted: bool):
    chosen, note = choose_suite(requested)
    assert chosen == suite and (note is not None) is noted


def test_requires_python_moves_off_the_default():
    assert choose_suite(None, ">=3.12")[0] == "trixie"
    assert choose_suite(None, ">=3.8")[0] == "bookworm"


def test_runner_image_names_per_suite(settings: Settings):
    assert runner_image_for_suite(settings, "bookworm") == "bugtrail-runner:latest"
    assert runner_image_for_suite(settings, "trixie") == "bugtrail-runner:trixie"
    registry = Settings(runner_image="127.0.0.1:5000/runner:v2")
    assert runner_image_for_suite(registry, "bullseye") == "127.0.0.1:5000/runner:bullseye"


def test_cache_key_follows_plan_base_and_dependency_files(settings: Settings, project: Path):
    plan = make_plan(settings, plan_trace(), None, project).plan
    key = cache_key(plan, "sha256:base", project, ["pyproject.toml"])
    assert key == cache_key(plan, "sha256:base", project, ["pyproject.toml"])
    assert key != cache_key(plan, "sha256:other", project, ["pyproject.toml"])
    assert key != cache_key(
        plan.model_copy(update={"packages": ["six"]}), "sha256:base", project, ["pyproject.toml"]
    )
    same_notes = plan.model_copy(update={"notes": ["different wording"]})
    assert key == cache_key(same_notes, "sha256:base", project, ["pyproject.toml"])
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n# changed\n")
    assert key != cache_key(plan, "sha256:base", project, ["pyproject.toml"])


def test_install_script_quotes_commands_and_installs_editable(settings: Settings, project: Path):
    plan = make_plan(settings, plan_trace(), None, project).plan
    plan = plan.model_copy(update={"commands": ["echo 'it''s'; touch x"]})
    script = install_script(plan)
    assert "pip install -e /workspace/repo" in script
    assert "sh -c 'echo '\"'\"'it'\"'\"''\"'\"'s'\"'\"'; touch x'" in script
    assert script.index("sh -c") < script.index("pip install -r") < script.index("pip install -e")


def test_cache_index_write_failure_is_an_error_and_leaves_nothing(settings: Settings, tmp_path: Path):
    cache = EnvCache(settings)
    entry = CacheEntry("k" * 64, "bugtrail-env:kkkk", "sha256:x", "u", "detected", "3.11.2", 1, 0.0, 0.0)
    cache.record(entry)
    assert cache.get(entry.key) == entry
    cache.index_dir.chmod(0o500)
    blocked = CacheEntry("j" * 64, "bugtrail-env:jjjj", "sha256:y", "u", "detected", None, 1, 0.0, 0.0)
    try:
        import os

        if os.getuid() == 0:  # root ignores permissions: make the index path a file instead
            cache.index_dir.chmod(0o700)
            (cache.index_dir / f"{blocked.key}.json").mkdir()
        with pytest.raises(EnvCacheError, match="cannot write the environment cache index"):
            cache.record(blocked)
    finally:
        cache.index_dir.chmod(0o700)
    assert cache.get(blocked.key) is None
    assert not list(cache.index_dir.glob("*.partial-*"))


def test_the_recorder_itself_is_never_pinned_from_a_recorded_environment() -> None:
    # A developer's venv holds the recorder (often an unreleased build): pinning it fails the whole build.
    kept, _notes = recorded_packages(["bugtrail==0.1.0", "six==1.16.0", "Bugtrail==9.9"], set())
    assert kept == ["six==1.16.0"]
