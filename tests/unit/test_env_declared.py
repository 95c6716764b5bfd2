"""Test dependencies declared by Poetry, Hatch, PDM, Pipenv, nox, setuptools' tests_require and pip-tools
inputs: small fixture trees read by detect(), nothing executed or fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.qa.environments.declared import pipfile_requirement, poetry_python, poetry_requirements
from bugtrail.qa.environments.detect import detect
from tests.support.repos import write_files


def note_for(notes: list[str], requirement: str) -> str:
    return next(note for note in notes if note.startswith(f"{requirement}: "))


# The examples of Poetry's "Dependency specification" documentation, converted as Poetry means them.
@pytest.mark.parametrize(
    ("constraint", "pep508"),
    [
        ("^1.2.3", "pkg<2.0.0,>=1.2.3"),
        ("^1.2", "pkg<2.0,>=1.2"),
        ("^1", "pkg<2,>=1"),
        ("^0.2.3", "pkg<0.3.0,>=0.2.3"),
        ("^0.0.3", "pkg<0.0.4,>=0.0.3"),
        ("^0.0", "pkg<0.1,>=0.0"),
        ("^0", "pkg<1,>=0"),
        ("~1.2.3", "pkg<1.3.0,>=1.2.3"),
        ("~1.2", "pkg<1.3,>=1.2"),
        ("~1", "pkg<2,>=1"),
        ("*", "pkg"),
        ("1.*", "pkg==1.*"),
        ("1.2.*", "pkg==1.2.*"),
        (">= 1.2.0", "pkg>=1.2.0"),
        (">=1,<2", "pkg<2,>=1"),
        ("==1.2.3", "pkg==1.2.3"),
        ("1.2.3", "pkg==1.2.3"),
        ("~=1.2", "pkg<2.0,>=1.2"),
    ],
)
def test_poetry_constraints_follow_poetrys_documentation(constraint: str, pep508: str):
    notes: list[str] = []
    assert poetry_requirements({"pkg": constraint}, "here", notes) == [pep508]
    assert notes == []


@pytest.mark.parametrize(
    ("constraint", "specifiers"),
    [
        ("^3.8", ">=3.8,<4.0"),
        (">=3.9", ">=3.9"),
        ("~3.10", ">=3.10,<3.11"),
        ("*", None),
        ("^2.7 || ^3.6", None),
    ],
)
def test_poetry_python_constraint_as_requires_python(constraint: str, specifiers: str | None):
    assert poetry_python(constraint, []) == specifiers


def test_poetry_tables_and_multiple_constraints():
    notes: list[str] = []
    table = {
        "python": "^3.8",
        "requests": {"version": "^2.13", "extras": ["socks"], "markers": "sys_platform == 'linux'"},
        "importlib-metadata": {"version": "*", "python": "<3.8"},
        "ipywidgets": {"version": ">=7.5,<9", "optional": True},
        "foo": [{"version": "<=1.9", "python": ">=3.6,<3.8"}, {"version": "^2.0", "python": ">=3.8"}],
        "private": {"version": "^1", "source": "internal"},
    }
    lines = poetry_requirements(table, "where", notes)
    assert lines == [
        'requests[socks]<3.0,>=2.13; sys_platform == "linux"',
        'importlib-metadata; python_version < "3.8"',
        "ipywidgets<9,>=7.5",
        'foo<=1.9; python_version >= "3.6" and python_version < "3.8"',
        'foo<3.0,>=2.0; python_version >= "3.8"',
        "private<2,>=1",
    ]
    assert notes == []


def test_poetry_locations_and_bad_constraints_are_notes():
    notes: list[str] = []
    table = {
        "mine": {"path": "../mine", "develop": True},
        "fork": {"git": "https://github.com/example/fork.git", "rev": "main"},
        "wheel": {"url": "https://example.com/wheel.whl"},
        "broken": "^^1",
        "odd": 3,
        "bad-marker": {"version": "1", "markers": "bogus ="},
    }
    assert poetry_requirements(table, "there", notes) == []
    assert len(notes) == 6
    assert any("mine comes from a path location" in note for note in notes)
    assert any("fork comes from a git location" in note for note in notes)
    assert any("broken = '^^1' is not a valid Poetry constraint" in note for note in notes)


def test_poetry_project_groups_dev_dependencies_and_extras(tmp_path: Path):
    tree = write_files(
        tmp_path,
        {
            "pyproject.toml": """
[tool.poetry]
name = "poetic"
version = "1.0"
[tool.poetry.dependencies]
python = "^3.8"
pygments = "^2.13"
pytest-mock = {version = "^3", optional = true}
[tool.poetry.extras]
testing = ["pytest-mock"]
[tool.poetry.dev-dependencies]
attrs = "^21.4.0"
[tool.poetry.group.test.dependencies]
freezegun = "~1.2"
local = {path = "../local"}
[tool.poetry.group.docs.dependencies]
sphinx = "*"
[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
""",
        },
    )
    found = detect(tree)
    # pip installs the checkout through poetry-core: that brings the runtime dependencies (pygments).
    assert found.has_project and found.project_name == "poetic"
    assert found.requires_python == ">=3.8,<4.0"
    assert found.build_requires == ["poetry-core>=1.0.0"]
    assert found.packages == ["attrs<22.0.0,>=21.4.0", "freezegun<1.3,>=1.2", "pytest-mock<4,>=3"]
    assert note_for(found.notes, "attrs<22.0.0,>=21.4.0").endswith("[tool.poetry.dev-dependencies]")
    assert note_for(found.notes, "freezegun<1.3,>=1.2").endswith("[tool.poetry.group.test.dependencies]")
    assert note_for(found.notes, "pytest-mock<4,>=3").endswith("extra 'testing'")
    assert any("local comes from a path location" in note for note in found.notes)


def test_hatch_default_test_and_hatch_test_environments(tmp_path: Path):
    tree = write_files(
        tmp_path,
        {
            "pyproject.toml": """
[project]
name = "hatched"
[project.optional-dependencies]
cli = ["click>=8"]
[tool.hatch.envs.default]
dependencies = ["coverage[toml]>=6.5"]
[tool.hatch.envs.tests]
dependencies = ["freezegun", "{root:uri}/vendored"]
features = ["cli"]
[tool.hatch.envs.hatch-test]
extra-dependencies = ["respx>=0.20"]
[tool.hatch.envs.docs]
dependencies = ["mkdocs"]
""",
        },
    )
    found = detect(tree)
    assert found.packages == ["coverage[toml]>=6.5", "freezegun", "respx>=0.20", "pytest-mock", "click>=8"]
    assert note_for(found.notes, "respx>=0.20") == (
        "respx>=0.20: pyproject.toml [tool.hatch.envs.hatch-test] extra-dependencies"
    )
    assert note_for(found.notes, "click>=8").endswith("extra 'cli'")
    assert any("Hatch context formatting" in note for note in found.notes)


def test_pdm_dev_dependencies(tmp_path: Path):
    tree = write_files(
        tmp_path,
        {
            "pyproject.toml": """
[project]
name = "pdmed"
[project.optional-dependencies]
yaml = ["pyyaml"]
[tool.pdm.dev-dependencies]
test = ["hypothesis>=6.79", "-e file:///${PROJECT_ROOT}/../sibling#egg=sibling", "-e .[yaml]"]
lint = ["ruff"]
""",
        },
    )
    found = detect(tree)
    assert found.packages == ["hypothesis>=6.79", "pyyaml"]
    assert note_for(found.notes, "hypothesis>=6.79").endswith("[tool.pdm.dev-dependencies] test")
    assert any("is local code, not installed" in note for note in found.notes)


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("*", "pkg"),
        ("==1.2", "pkg==1.2"),
        (">=2,<3", "pkg<3,>=2"),
        ("1.4", "pkg==1.4"),
        ({"version": "~=1.1", "extras": ["socks"]}, "pkg[socks]~=1.1"),
        ({"version": "*", "sys_platform": "== 'win32'"}, 'pkg; sys_platform == "win32"'),
        ({"version": "*", "markers": "python_version < '3.9'"}, 'pkg; python_version < "3.9"'),
        ({"git": "https://example.com/x.git", "ref": "main"}, None),
        ({"path": ".", "editable": True}, None),
        (3, None),
    ],
)
def test_pipfile_entries(spec: object, line: str | None):
    notes: list[str] = []
    assert pipfile_requirement("pkg", spec, "Pipfile [dev-packages]", notes) == line
    assert bool(notes) is (line is None)


def test_pipfile_packages_and_dev_packages(tmp_path: Path):
    tree = write_files(
        tmp_path,
        {
            "Pipfile": """
[[source]]
url = "https://pypi.org/simple"
name = "pypi"
[packages]
requests = "*"
app = {path = ".", editable = true}
[dev-packages]
pytest-httpbin = "==2.0.0"
""",
        },
    )
    found = detect(tree)
    assert found.packages == ["requests", "pytest-httpbin==2.0.0"]
    assert note_for(found.notes, "pytest-httpbin==2.0.0") == "pytest-httpbin==2.0.0: Pipfile [dev-packages]"
    assert "Pipfile" in found.files


def test_noxfile_test_sessions_read_with_ast_never_executed(tmp_path: Path):
    marker = tmp_path / "executed"
    tree = write_files(
        tmp_path / "repo",
        {
            "noxfile.py": f"""
import pathlib
import nox
pathlib.Path({str(marker)!r}).write_text("ran")
TEST_DEPS = ["pretend", "pytest>=6"]

@nox.session(python=["3.10", "3.11"])
def tests(session):
    session.install(*TEST_DEPS, "coverage[toml]")
    session.install("-r", "requirements/extra.txt")
    session.install("-e", ".[fast]")
    session.install(f"thing=={{session.python}}")
    session.run("pytest")

@nox.session(name="test-min")
def minimum(s):
    s.install("--constraint", "constraints.txt", "attrs==21.1")

@nox.session
def lint(session):
    session.install("ruff")
""",
            "requirements/extra.txt": "freezegun\n",
            "setup.py": "import setuptools\nsetuptools.setup(name='nox', extras_require={'fast': ['ujson']})",
        },
    )
    found = detect(tree)
    assert found.packages == ["pretend", "pytest>=6", "coverage[toml]", "freezegun", "attrs==21.1", "ujson"]
    assert note_for(found.notes, "freezegun") == (
        "freezegun: noxfile.py session 'tests' -r requirements/extra.txt"
    )
    assert note_for(found.notes, "attrs==21.1") == "attrs==21.1: noxfile.py session 'test-min'"
    assert any("a computed install argument" in note for note in found.notes)
    assert {"noxfile.py", "requirements/extra.txt"} <= set(found.files)
    assert not marker.exists()


def test_tests_require_pip_tools_inputs_and_ci_requirements(tmp_path: Path):
    tree = write_files(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(name='old', tests_require=['mock', 'nose'])\n",
            "setup.cfg": "[options]\ntests_require =\n    pytest-timeout\n",
            "requirements/test.in": "responses\n",
            "requirements-ci.txt": "pytest-xdist\n",
            "ci/requirements-py311.txt": "hypothesis\n",
        },
    )
    found = detect(tree)
    wanted = {"mock", "nose", "pytest-timeout", "responses", "pytest-xdist", "hypothesis"}
    assert wanted <= set(found.packages)
    assert note_for(found.notes, "mock") == "mock: setup.py tests_require"
    assert note_for(found.notes, "pytest-timeout") == "pytest-timeout: setup.cfg [options] tests_require"
    assert {"requirements/test.in", "requirements-ci.txt", "ci/requirements-py311.txt"} <= set(found.files)


def test_broken_declarations_are_notes_not_crashes(tmp_path: Path):
    tree = write_files(tmp_path, {"Pipfile": "[packages\nx=", "noxfile.py": "def (:\n"})
    found = detect(tree)
    assert found.packages == []
    assert any("Pipfile is not valid TOML" in note for note in found.notes)
    assert any("noxfile.py does not parse" in note for note in found.notes)
