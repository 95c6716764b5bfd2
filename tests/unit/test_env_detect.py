"""Environment detection over small fixture trees: pure file reading, nothing executed or fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugtrail.qa.environments.detect import detect, is_test_extra
from bugtrail.qa.environments.plugins import implied_plugins, plugin_for_option
from bugtrail.qa.environments.requirements import ParsedRequirements, judge_line, parse_requirements_file
from tests.support.repos import write_files as write


def test_pyproject_test_extras_with_self_reference_and_build_requires(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "pyproject.toml": """
[build-system]
requires = ["hatchling", "hatch-vcs"]
[project]
name = "My_Pkg"
requires-python = ">=3.9"
[project.optional-dependencies]
tests = ["freezegun>=1", "my-pkg[speedups]"]
speedups = ["ujson"]
docs = ["sphinx"]
""",
        },
    )
    found = detect(tree)
    assert found.project_name == "My_Pkg" and found.has_project
    assert found.packages == ["freezegun>=1", "ujson"]  # docs left out; the self-reference expanded
    assert found.build_requires == ["hatchling", "hatch-vcs"]
    assert found.requires_python == ">=3.9"
    assert "pyproject.toml" in found.files


@pytest.mark.parametrize(
    ("name", "wanted"),
    [("test", True), ("tests", True), ("testing", True), ("dev", True), ("Test-All", True), ("docs", False)],
)
def test_extra_names(name: str, wanted: bool):
    assert is_test_extra(name) is wanted


def test_dependency_groups_with_include_group(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "pyproject.toml": """
[dependency-groups]
lint = ["ruff"]
test = ["pytest-mock", {include-group = "coverage"}]
coverage = ["coverage[toml]>=7"]
cycle-test = [{include-group = "cycle-test"}]
""",
        },
    )
    found = detect(tree)
    assert "pytest-mock" in found.packages and "coverage[toml]>=7" in found.packages
    assert "ruff" not in found.packages
    assert not found.has_project


def test_setup_cfg_extras_and_pytest_section(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "setup.cfg": """
[metadata]
name = legacy
[options]
python_requires = >=3.8
[options.extras_require]
testing =
    hypothesis
    pytest-mock>=3
docs = sphinx
[tool:pytest]
addopts = --cov=legacy --timeout=30
""",
        },
    )
    found = detect(tree)
    assert found.project_name == "legacy" and found.has_project
    assert found.packages[:2] == ["hypothesis", "pytest-mock>=3"]
    assert {"pytest-cov", "pytest-timeout"} <= set(found.packages)
    assert found.build_requires  # setuptools default for a setup.cfg project
    assert found.requires_python == ">=3.8"


def test_setup_py_extras_read_with_ast_never_executed(tmp_path: Path):
    marker = tmp_path / "executed"
    tree = write(
        tmp_path / "repo",
        {
            "setup.py": f"""
import pathlib
pathlib.Path({str(marker)!r}).write_text("ran")
TEST = ["six", "attrs>=20"]
from setuptools import setup
setup(name="oldpkg", extras_require={{"test": TEST, "docs": ["sphinx"]}})
""",
        },
    )
    found = detect(tree)
    assert found.project_name == "oldpkg"
    assert found.packages == ["six", "attrs>=20"]
    assert not marker.exists()


def test_requirements_files_with_includes_inside_the_tree_only(tmp_path: Path):
    outside = tmp_path / "secret.txt"
    outside.write_text("leaked-package\n")
    tree = write(
        tmp_path / "repo",
        {
            "requirements.txt": "attrs==23.1.0\n",
            "requirements/test.txt": (
                "-r base.txt\n-r ../../secret.txt\npytest-benchmark  # speed\n-e .[extra]\n"
            ),
            "requirements/base.txt": (
                "python-dateutil>=2.8 \\\n  ; python_version >= '3'\n--index-url https://evil.example/simple\n"
            ),
            "requirements-dev.txt": "git+https://example.com/x.git#egg=x\nlocal @ file:///tmp/x\n./vendored\n",
        },
    )
    found = detect(tree)
    assert found.packages[0] == "attrs==23.1.0"
    assert "pytest-benchmark" in found.packages
    assert any(p.startswith("python-dateutil>=2.8") for p in found.packages)
    assert not any("leaked" in p or "evil" in p or "vendored" in p or "file:" in p for p in found.packages)
    assert any("outside the repository" in note for note in found.notes)
    assert {"requirements.txt", "requirements/test.txt", "requirements/base.txt"} <= set(found.files)


def test_vcs_lines_kept_only_when_pinned_over_https():
    sha = "a" * 40
    assert judge_line(f"pkg @ git+https://example.com/pkg.git@{sha}")[0] is not None
    assert judge_line("pkg @ git+https://example.com/pkg.git@main")[0] is None
    assert judge_line("pkg @ git+ssh://git@example.com/pkg.git")[0] is None
    assert judge_line("pkg @ http://example.com/pkg.whl")[0] is None
    assert judge_line("-i https://evil.example/simple")[0] is None
    assert judge_line("requests==2.31.0")[0] == "requests==2.31.0"


def test_include_cycle_is_read_once(tmp_path: Path):
    tree = write(tmp_path, {"a.txt": "-r b.txt\nsix\n", "b.txt": "-r a.txt\nattrs\n"})
    parsed = ParsedRequirements()
    parse_requirements_file(tree, "a.txt", parsed)
    assert parsed.packages == ["attrs", "six"] and parsed.files == ["a.txt", "b.txt"]


def test_tox_deps_skip_substitutions_and_factors(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "tox.ini": """
[tox]
envlist = py311
[testenv]
deps =
    -r{toxinidir}/requirements/ci.txt
    freezegun
    py38: mock
    !marshmallowdev: marshmallow>=3.0.0,<4.0.0
    marshmallowdev: https://example.org/marshmallow/dev.tar.gz
    !a-!b: attrs<23
    !a,b: six
    a,!b-c: idna
    pytest{env:PYTEST_VERSION}
commands = pytest
""",
            "requirements/ci.txt": "responses\n",
        },
    )
    found = detect(tree)
    assert "freezegun" in found.packages and "responses" in found.packages
    assert "mock" not in found.packages and not any("{" in p for p in found.packages)
    assert "tox.ini" in found.files
    # A condition of negated factors only holds for the plain environment (no optional factors): kept.
    assert {"marshmallow>=3.0.0,<4.0.0", "attrs<23", "six"} <= set(found.packages)
    assert not any("example.org" in p or p == "idna" for p in found.packages)


def test_tox_extras_install_the_project_with_those_extras(tmp_path: Path):
    # pyparsing 2022: `extras = diagrams` is the only place railroad-diagrams is asked for; without it its
    # diagram tests fail in both runs on a missing module.
    tree = write(
        tmp_path,
        {
            "tox.ini": """
[testenv]
extras = diagrams, docs
    py38: legacy
    !lean: speed
    {env:EXTRA}
commands = python -m unittest
""",
            "pyproject.toml": """
[project]
name = "pkg"
[project.optional-dependencies]
diagrams = ["railroad-diagrams", "jinja2"]
docs = ["sphinx"]
legacy = ["six"]
speed = ["cython"]
other = ["never"]
""",
        },
    )
    found = detect(tree)
    assert {"railroad-diagrams", "jinja2", "sphinx", "cython"} <= set(found.packages)
    assert "six" not in found.packages and "never" not in found.packages
    assert "tox.ini" in found.files
    assert "tox.ini: [testenv] extras 'diagrams'" in found.notes
    # An extra the project does not declare installs nothing; tox.ini without deps or extras is not read.
    bare = write(tmp_path / "bare", {"tox.ini": "[testenv]\ncommands = pytest\n", "setup.py": ""})
    assert "tox.ini" not in detect(bare).files


@pytest.mark.parametrize(
    ("token", "plugin"),
    [
        ("--cov=src", "pytest-cov"),
        ("--cov-report=term", "pytest-cov"),
        ("--no-cov-on-fail", "pytest-cov"),
        ("--benchmark-skip", "pytest-benchmark"),
        ("-n", "pytest-xdist"),
        ("-nauto", "pytest-xdist"),
        ("-n=4", "pytest-xdist"),
        ("--dist=loadscope", "pytest-xdist"),
        ("--timeout=10", "pytest-timeout"),
        ("--reruns=2", "pytest-rerunfailures"),
        ("--hypothesis-show-statistics", "hypothesis"),
        ("--randomly-seed=1", "pytest-randomly"),
        ("--html=report.html", "pytest-html"),
        ("--mypy", "pytest-mypy"),
        ("--doctest-modules", None),
        ("--strict-markers", None),
        ("-ra", None),
        ("--no-header", None),
    ],
)
def test_addopts_tokens_map_to_plugins(token: str, plugin: str | None):
    assert plugin_for_option(token) == plugin


def test_pytest_ini_wins_and_p_plugins_required_plugins_and_ini_keys(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "pytest.ini": """
[pytest]
addopts = -p xdist -p no:cacheprovider -p pytest_freezer -p tests.helpers -ra --color=yes
asyncio_mode = auto
required_plugins = pytest-mock>=3 pytest-env
""",
            "tests/helpers.py": "",
            "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '--cov'\n",
        },
    )
    finding = implied_plugins(tree)
    assert finding.config_file == "pytest.ini"
    assert set(finding.plugins) == {
        "pytest-xdist",
        "pytest-freezer",
        "pytest-asyncio",
        "pytest-mock>=3",
        "pytest-env",
    }  # pyproject's --cov is not pytest's config here; tests.helpers is the repository's own module


def test_pyproject_pytest_options_as_a_list_and_declared_plugins_not_duplicated(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "pyproject.toml": """
[project]
name = "x"
[project.optional-dependencies]
test = ["pytest-cov>=4"]
[tool.pytest.ini_options]
addopts = ["--cov=x", "--benchmark-disable"]
""",
        },
    )
    found = detect(tree)
    assert "pytest-cov>=4" in found.packages and "pytest-cov" not in found.packages
    assert "pytest-benchmark" in found.packages
    assert found.plugins == {"pytest-benchmark": "implied by pyproject.toml addopts '--benchmark-disable'"}


def test_broken_files_are_notes_not_crashes(tmp_path: Path):
    tree = write(
        tmp_path,
        {"pyproject.toml": "[project\nname=", "setup.py": "def (:\n", "tox.ini": "[testenv\ndeps=x"},
    )
    found = detect(tree)
    assert found.packages == []
    assert any("not valid TOML" in note for note in found.notes)
    assert any("setup.py does not parse" in note for note in found.notes)


def test_empty_tree_detects_nothing(tmp_path: Path):
    found = detect(tmp_path)
    assert found.packages == [] and not found.has_project and found.files == []


def test_setup_py_building_extensions_lists_its_native_sources(tmp_path: Path):
    tree = write(
        tmp_path,
        {
            "setup.py": 'from setuptools import Extension, setup\nsetup(name="fast", '
            'ext_modules=[Extension("fast._speedups", ["src/fast/_speedups.c"])])\n',
            "src/fast/__init__.py": "",
            "src/fast/_speedups.c": "int x;\n",
            "src/fast/helpers.h": "#define Y 1\n",
            "src/fast/_loop.pyx": "def f(): pass\n",
            "docs/example.c": "int doc;\n",
            "build/temp/_speedups.c": "int stale;\n",
        },
    )
    detection = detect(tree)
    assert detection.native_sources == ["src/fast/_loop.pyx", "src/fast/_speedups.c", "src/fast/helpers.h"]
    assert any("builds extensions from 3 C/C++/Cython file(s)" in note for note in detection.notes)


@pytest.mark.parametrize(
    "setup_py",
    ['from setuptools import setup\nsetup(name="plain")\n', None],
    ids=["setup.py-without-extensions", "no-setup.py"],
)
def test_c_files_without_an_extension_build_are_not_native_sources(tmp_path: Path, setup_py: str | None):
    files = {"pkg/__init__.py": "", "pkg/vendored.c": "int x;\n", "pyproject.toml": '[project]\nname = "p"\n'}
    if setup_py is not None:
        files["setup.py"] = setup_py
    assert detect(write(tmp_path, files)).native_sources == []
