"""An old checkout whose runtime dependencies' newest releases break its import: reinstalled as of its date.

Plan side (environments/era_dependencies.py, pure): which commits get the check, the cutoff, the project's
own packages, the cache key. Build side (dockerfiles/era_dependencies.py, run in the build container): what
it reinstalls, and that it never fails the build.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from bugtrail.config import Settings
from bugtrail.qa.environments.build import NOTE_MARKER, install_script
from bugtrail.qa.environments.cache import TEMPLATE_VERSION, cache_key
from bugtrail.qa.environments.era_dependencies import dependencies_cutoff, project_imports
from bugtrail.qa.environments.plan import make_plan
from bugtrail.qa.environments.schemas import EnvironmentPlan
from bugtrail.qa.image import DOCKERFILES
from bugtrail.wire import RecordedEnvironment
from tests.support.env_repos import plan_trace


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "cutoff"),
    [
        ("2019-10-14T12:00:00", "2019-11-01T00:00:00Z"),
        ("2019-12-31T23:59:00", "2020-01-01T00:00:00Z"),
        ("2023-06-01T00:00:00", "2023-07-01T00:00:00Z"),
        ("2025-11-07T00:00:00", "2025-12-01T00:00:00Z"),  # the day before pytest 9.0
        ("2025-11-08T00:00:00", None),  # today's pytest major: today's releases are the commit's own
        ("2026-07-25T00:00:00", None),
    ],
)
def test_cutoff_is_the_month_after_an_old_commit(day: str, cutoff: str | None):
    assert dependencies_cutoff(at(day)) == cutoff


def test_no_date_no_cutoff():
    assert dependencies_cutoff(None) is None


def package(root: Path, name: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")


def test_project_imports_are_the_checkouts_own_packages(tmp_path: Path):
    flat = tmp_path / "flat"
    for name in ("jinja2", "tests", "docs", "examples", "scripts"):
        package(flat, name)
    (flat / "artwork").mkdir()  # not a package
    (flat / "setup.py").write_text("")
    assert project_imports(flat) == ["jinja2"]

    src = tmp_path / "src-layout"
    package(src / "src", "werkzeug")
    package(src, "tests")
    assert project_imports(src) == ["werkzeug"]

    modules_only = tmp_path / "modules"
    modules_only.mkdir()
    (modules_only / "six.py").write_text("")
    assert project_imports(modules_only) == []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", runner_image="bugtrail-runner:latest")


def old_project(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    package(tree, "oldpkg")
    package(tree, "tests")
    (tree / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='oldpkg', install_requires=['MarkupSafe>=0.23'])\n"
    )
    return tree


def test_plans_of_old_commits_carry_the_check(settings: Settings, tmp_path: Path):
    tree = old_project(tmp_path)
    old = make_plan(settings, plan_trace(), None, tree, commit_date=at("2019-10-14T12:00:00")).plan
    assert old.source == "detected" and old.install_project
    assert old.project_imports == ["oldpkg"]
    assert old.dependencies_as_of == "2019-11-01T00:00:00Z"
    assert any("reinstalled as of 2019-11-01T00:00:00Z" in note for note in old.notes)

    current = make_plan(settings, plan_trace(), None, tree, commit_date=at("2026-07-25T00:00:00")).plan
    assert current.project_imports == [] and current.dependencies_as_of is None

    undated = make_plan(settings, plan_trace(), None, tree).plan
    assert undated.dependencies_as_of is None

    # The developer's pins are the truth: a recorded environment is never rewound.
    pinned = RecordedEnvironment(python_version="3.11.7", packages=["MarkupSafe==1.1.1", "pytest==6.2.5"])
    recorded = make_plan(settings, plan_trace(pinned), None, tree, commit_date=at("2019-10-14T12:00:00")).plan
    assert recorded.source == "recorded" and recorded.dependencies_as_of is None


def base_plan(**fields: object) -> EnvironmentPlan:
    shape: dict[str, object] = {"packages": ["pytest<7"], **fields}
    return EnvironmentPlan(source="detected", python_version="3.11", base_image="runner", **shape)  # type: ignore[arg-type]


def test_cache_key_changes_only_for_plans_with_the_check(tmp_path: Path):
    import hashlib
    import json

    plain = base_plan()
    # What the key was before the check existed: the plan's fields without notes, inferred, or the check.
    shape = plain.model_dump(
        mode="json", exclude={"notes", "inferred", "pytest_below", "project_imports", "dependencies_as_of"}
    )
    document = {"template": TEMPLATE_VERSION, "base_image_id": "sha256:x", "plan": shape}
    expected = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    assert cache_key(plain, "sha256:x", tmp_path, []) == expected

    checked = base_plan(project_imports=["oldpkg"], dependencies_as_of="2019-11-01T00:00:00Z")
    later = base_plan(project_imports=["oldpkg"], dependencies_as_of="2019-12-01T00:00:00Z")
    keys = {cache_key(p, "sha256:x", tmp_path, []) for p in (plain, checked, later)}
    assert len(keys) == 3


def test_install_script_runs_the_check_after_the_install_and_before_the_pytest_smoke():
    plain = install_script(base_plan())
    assert "era_dependencies.py" not in plain

    script = install_script(
        base_plan(packages=[], project_imports=["oldpkg"], dependencies_as_of="2019-11-01T00:00:00Z")
    )
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    line = "python /opt/bugtrail/env/era_dependencies.py 2019-11-01T00:00:00Z oldpkg"
    assert line in script
    assert script.index("pip install -e /workspace/repo") < script.index(line) < script.index("pytest_runs()")

    # With declared packages, their imports are checked too (against the plan's requirement file).
    declared = install_script(
        base_plan(project_imports=["oldpkg"], dependencies_as_of="2019-11-01T00:00:00Z")
    )
    assert (
        "python /opt/bugtrail/env/era_dependencies.py --declared /opt/bugtrail/env/requirements.txt "
        "2019-11-01T00:00:00Z oldpkg"
    ) in declared

    no_project = base_plan(
        project_imports=["oldpkg"], dependencies_as_of="2019-11-01T00:00:00Z", install_project=False
    )
    assert "era_dependencies.py" not in install_script(no_project)


# --- the build side: dockerfiles/era_dependencies.py ------------------------------------------------------


@pytest.fixture
def era() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location(
        "era_dependencies_script", DOCKERFILES / "era_dependencies.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


def fake_distribution(site: Path, name: str, requires: list[str], top_level: str) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"  # as installers name it
    info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"]
    lines += [f"Requires-Dist: {line}\n" for line in requires]
    (info / "METADATA").write_text("".join(lines))
    (info / "top_level.txt").write_text(top_level + "\n")


def test_runtime_requirements_are_the_providers_own_without_extras_or_other_platforms(
    era: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = tmp_path / "site"
    fake_distribution(
        site,
        "oldpkg-bt",
        [
            "MarkupSafe>=0.23",
            'Babel>=0.8; extra == "i18n"',
            'pywin32; sys_platform == "win32"',
            'typing-extensions; python_version >= "3"',
            "oldpkg-bt[i18n]",
            "pkg @ https://example.org/pkg.whl",
        ],
        "oldpkg_bt",
    )
    monkeypatch.syspath_prepend(str(site))
    assert era.providers(["oldpkg_bt", "not_installed_anywhere"]) == ["oldpkg-bt"]
    assert era.runtime_requirements(["oldpkg-bt"]) == ["MarkupSafe>=0.23", "typing-extensions"]


def run_main(
    era: ModuleType, capsys: pytest.CaptureFixture[str], errors: list[str | None]
) -> tuple[str, list]:
    calls: list = []
    remaining = list(errors)
    era.import_error = lambda modules: remaining.pop(0)
    era.providers = lambda modules: ["oldpkg"]
    era.runtime_requirements = lambda names: ["MarkupSafe>=0.23"]

    def reinstall(requirements: list[str], cutoff: str) -> tuple[bool, str]:
        calls.append((requirements, cutoff))
        return True, "MarkupSafe-1.1.1"

    era.reinstall = reinstall
    versions = iter([{"markupsafe": "3.0.3", "pytest": "6.2.5"}, {"markupsafe": "1.1.1", "pytest": "6.2.5"}])
    era.installed = lambda: next(versions)
    era.pip_install = lambda arguments: calls.append(arguments) or (True, "")
    assert era.main(["2019-11-01T00:00:00Z", "oldpkg"]) == 0
    return capsys.readouterr().out, calls


def test_a_project_that_imports_is_left_alone(era: ModuleType, capsys: pytest.CaptureFixture[str]):
    out, calls = run_main(era, capsys, [None])
    assert calls == [] and NOTE_MARKER not in out


def test_a_project_that_does_not_import_gets_its_dependencies_as_of_the_cutoff(
    era: ModuleType, capsys: pytest.CaptureFixture[str]
):
    error = "ImportError: cannot import name 'soft_unicode' from 'markupsafe'"
    out, calls = run_main(era, capsys, [error, None])
    assert calls == [(["MarkupSafe>=0.23"], "2019-11-01T00:00:00Z")]
    note = next(line for line in out.splitlines() if line.startswith(NOTE_MARKER))
    assert note.startswith(f"{NOTE_MARKER}runtime dependencies as of 2019-11-01T00:00:00Z (MarkupSafe-1.1.1)")
    assert "the project imports now; with today's releases: ImportError: cannot import name 'soft_" in note

    # Old releases that do not help are undone: the versions they changed are put back, nothing else moved.
    out, calls = run_main(era, capsys, [error, "ImportError: still"])
    assert calls[1:] == [["--no-deps", "markupsafe==3.0.3"]]
    assert (
        "as of 2019-11-01T00:00:00Z did not help (ImportError: still); today's put back (markupsafe==3.0.3)"
        in out
    )


def test_bad_arguments_and_a_failed_reinstall_never_fail_the_build(
    era: ModuleType, capsys: pytest.CaptureFixture[str]
):
    assert era.main(["yesterday", "oldpkg"]) == 0
    assert era.main([]) == 0
    era.import_error = lambda modules: "ImportError: x"
    era.providers = lambda modules: ["oldpkg"]
    era.runtime_requirements = lambda names: ["numpy>=1.0"]
    era.reinstall = lambda requirements, cutoff: (False, "error: subprocess-exited-with-error")
    assert era.main(["2019-11-01T00:00:00Z", "oldpkg"]) == 0
    assert "did not install (error: subprocess-exited-with-error); today's kept" in capsys.readouterr().out


def test_installed_versions_are_read_from_the_metadata(era: ModuleType):
    versions = era.installed()
    assert versions["pytest"] == pytest.__version__ and "packaging" in versions


def test_the_import_check_runs_in_a_fresh_interpreter(era: ModuleType):
    assert era.import_error(["json", "email"]) is None
    error = era.import_error(["json", "no_such_module_bugtrail"])
    assert error and "No module named 'no_such_module_bugtrail'" in error
    assert sys.executable  # the same interpreter as the build's pip


# --- the declared test dependencies (--declared FILE) ------------------------------------------------------


def test_declared_names_are_the_requirement_files_distributions(era: ModuleType, tmp_path: Path):
    listing = tmp_path / "requirements.txt"
    listing.write_text(
        "# comment\n-e .\n--index-url https://example.org\npytest>=2.8.0,<=6.2.5\nFlask>=1.0,<2.0  # old\n"
        "pytest-httpbin==1.0.0\npkg @ https://example.org/pkg.whl\nnot a requirement!\npy\nflask\n"
    )
    assert era.declared_names(str(listing)) == ["flask", "pytest-httpbin"]
    assert era.declared_names(str(tmp_path / "missing.txt")) == []


def run_declared(
    era: ModuleType, capsys: pytest.CaptureFixture[str], failing: list[dict[str, str]]
) -> tuple[str, list]:
    calls: list = []
    remaining = list(failing)
    era.import_error = lambda modules: None  # the project itself imports
    era.declared_names = lambda path: ["flask", "pytest-httpbin", "trustme"]
    era.top_level_modules = lambda names: {
        "flask": ["flask"],
        "pytest-httpbin": ["pytest_httpbin"],
        "trustme": ["trustme"],
    }
    era.failing_imports = lambda modules: remaining.pop(0)
    era.runtime_requirements = lambda names: (
        calls.append(("requirements of", names))
        or [
            "Jinja2<3.0,>=2.10.1",
            "Werkzeug>=0.15",
            "flask",
        ]
    )

    def reinstall(requirements: list[str], cutoff: str, hold: list[str] | None = None) -> tuple[bool, str]:
        calls.append((requirements, cutoff, hold))
        return True, "Jinja2-2.11.3 MarkupSafe-2.0.1"

    era.reinstall = reinstall
    versions = iter(
        [
            {"flask": "1.1.4", "pytest-httpbin": "1.0.0", "trustme": "1.2.1", "markupsafe": "3.0.3"},
            {"flask": "1.1.4", "pytest-httpbin": "1.0.0", "trustme": "1.2.1", "markupsafe": "2.0.1"},
        ]
    )
    era.installed = lambda: next(versions)
    era.pip_install = lambda arguments: calls.append(arguments) or (True, "")
    assert era.main(["--declared", "/opt/bugtrail/env/requirements.txt", "2022-02-01T00:00:00Z", "pkg"]) == 0
    return capsys.readouterr().out, calls


def test_declared_test_dependencies_that_import_are_left_alone(
    era: ModuleType, capsys: pytest.CaptureFixture[str]
):
    out, calls = run_declared(era, capsys, [{}])
    assert calls == [] and NOTE_MARKER not in out


def test_declared_test_dependencies_that_do_not_import_get_their_requirements_as_of_the_cutoff(
    era: ModuleType, capsys: pytest.CaptureFixture[str]
):
    # requests 2022: requirements-dev.txt pins Flask<2.0; today's MarkupSafe lacks soft_unicode (Jinja2 2.x).
    error = "ImportError: cannot import name 'soft_unicode' from 'markupsafe'"
    out, calls = run_declared(era, capsys, [{"flask": error, "pytest_httpbin": error}, {}])
    assert calls[0] == ("requirements of", ["flask", "pytest-httpbin"])
    # What the repository declared is held at its installed version; only what came underneath moves.
    assert calls[1] == (
        ["Jinja2<3.0,>=2.10.1", "Werkzeug>=0.15"],
        "2022-02-01T00:00:00Z",
        ["flask==1.1.4", "pytest-httpbin==1.0.0", "trustme==1.2.1"],
    )
    note = next(line for line in out.splitlines() if line.startswith(NOTE_MARKER))
    assert (
        "as of 2022-02-01T00:00:00Z (Jinja2-2.11.3 MarkupSafe-2.0.1): flask, pytest-httpbin import now"
        in note
    )

    # Old releases that do not help are undone.
    out, calls = run_declared(era, capsys, [{"flask": error}, {"flask": "ImportError: still"}])
    assert calls[-1] == ["--no-deps", "markupsafe==3.0.3"]
    assert "did not help (flask: ImportError: still); today's put back (markupsafe==3.0.3)" in out


def test_the_declared_import_check_tries_each_module_on_its_own(era: ModuleType):
    failed = era.failing_imports(["json", "no_such_module_bugtrail", "email"])
    assert list(failed) == ["no_such_module_bugtrail"]
    assert "ModuleNotFoundError" in failed["no_such_module_bugtrail"]
    assert "pytest" in era.top_level_modules(["pytest"])["pytest"]
