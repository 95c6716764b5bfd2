"""End to end through the API and the worker: a fix in a src/ layout repository whose tests need a package
from a test extra, a plugin that addopts demands and a version module generated at install time is graded
resolved in a detected environment image, and the next trace of the repository reuses the image."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bugtrail.cli.app import app
from bugtrail.config import Settings
from tests.support.buggy_repo import submit_and_run, trace_body
from tests.support.env_repos import SCM_INIT, SCM_TEST, cli_uses, plain_repo, scm_repo
from tests.support.repos import git

BUGGY_INIT = SCM_INIT.replace('== "yes"', '== "no"')
OLD_TEST = SCM_TEST.split("\n\ndef test_flag")[0] + "\n"


def buggy_scm_repo(path: Path) -> str:
    scm_repo(path)
    (path / "src" / "envpkg" / "__init__.py").write_text(BUGGY_INIT)
    (path / "tests" / "test_envpkg.py").write_text(OLD_TEST)
    git(path, "commit", "-qam", "parse_flag compares with the wrong word")
    return git(path, "rev-parse", "HEAD")


def fix_body(repo: Path, commit: str) -> dict[str, Any]:
    return trace_body(
        f"file://{repo}",
        commit,
        [("tests/test_envpkg.py", OLD_TEST, SCM_TEST), ("src/envpkg/__init__.py", BUGGY_INIT, SCM_INIT)],
    )


def test_fix_graded_in_a_detected_environment_and_the_image_reused(
    client, keys, worker, repos_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    repo = repos_dir / "envpkg"
    commit = buggy_scm_repo(repo)
    trace = submit_and_run(client, keys, worker, fix_body(repo, commit))
    first = trace["qa_results"]
    environment = first["environment"]
    try:
        assert first["outcome"] == "completed", (first.get("error"), environment.get("build_log_tail"))
        assert first["resolved"] is True and first["tests_passed"] is True
        assert first["fail_to_pass"] == ["tests/test_envpkg.py::test_flag"]
        assert first["pass_to_pass"] == ["tests/test_envpkg.py::test_version_module_is_there"]
        assert environment["source"] == "detected" and environment["cache_hit"] is False
        assert environment["image"].startswith("bugtrail-env:")
        assert {"iniconfig>=2", "pytest-cov"} <= set(environment["plan"]["packages"])

        second = submit_and_run(client, keys, worker, fix_body(repo, commit))["qa_results"]
        assert second["resolved"] is True
        assert second["environment"]["cache_hit"] is True
        assert second["environment"]["image"] == environment["image"]

        # `bugtrail env build TRACE_ID` prepares what QA used for that trace: the same cached image.
        cli_uses(settings, monkeypatch)
        built = CliRunner().invoke(app, ["env", "build", trace["trace_id"]])
        assert built.exit_code == 0, built.output
        assert f"ready: {environment['image']} (reused from the cache)" in built.output
        missing = CliRunner().invoke(app, ["env", "build", "00000000-0000-0000-0000-000000000000"])
        assert missing.exit_code == 1 and "not found" in missing.output
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


DYNAMIC_TEST_OLD = "def test_placeholder():\n    pass\n"
# The dependency is loaded by name at run time (as plugins and entry points are): nothing declares it and no
# import statement names it, so only the session's `pip install` says the tests need it.
DYNAMIC_TEST_NEW = (
    "import importlib\n\n\n"
    "def test_six_is_there_at_run_time():\n"
    "    assert importlib.import_module('si' + 'x').PY3\n"
)


def test_a_package_pip_installed_during_the_session_is_in_the_environment(
    client, keys, worker, repos_dir: Path
):
    repo = repos_dir / "session-install"
    commit = plain_repo(repo, {"tests/test_dynamic.py": DYNAMIC_TEST_OLD})
    install = {
        "type": "command",
        "timestamp": "2026-11-26T09:30:00+00:00",
        "details": {"command": "python -m pip install six", "exit_code": 0, "output": "Successfully"},
    }
    body = trace_body(
        f"file://{repo}",
        commit,
        [("tests/test_dynamic.py", DYNAMIC_TEST_OLD, DYNAMIC_TEST_NEW)],
        test_command="python -m pytest -q tests/test_dynamic.py",
        extra_events=[install],
    )
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert qa["outcome"] == "completed", (qa.get("error"), environment.get("build_log_tail"))
        assert "six" in environment["plan"]["packages"]
        assert "six: installed during the session" in environment["plan"]["notes"]
        assert qa["tests_passed"] is True
        # The only edit is a test edit, so the before run has the test too: it passes in both runs.
        assert qa["pass_to_pass"] == ["tests/test_dynamic.py::test_six_is_there_at_run_time"]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


NOSE_CALC_BUGGY = "def add(a, b):\n    return a - b\n"
NOSE_CALC_FIXED = "def add(a, b):\n    return a + b\n"
# Written in 2023 against pytest 7: a nose-style `setup` method, which pytest 8 stopped calling.
NOSE_TEST = """import pytest

from calc import add


class TestAdd:
    def setup(self):
        self.numbers = (2, 3)

    def test_add(self):
        assert add(*self.numbers) == 5

    def test_add_zero(self):
        assert add(self.numbers[0], 0) == 2


def test_runs_under_the_pytest_of_its_time():
    assert pytest.__version__.startswith("7."), pytest.__version__
"""


def test_a_suite_from_2023_runs_under_the_pytest_of_its_time(
    client, keys, worker, repos_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = repos_dir / "nose-style"
    with monkeypatch.context() as dated:
        for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            dated.setenv(name, "2023-03-01T12:00:00+00:00")
        commit = plain_repo(repo, {"calc.py": NOSE_CALC_BUGGY, "tests/test_calc.py": NOSE_TEST})
    body = trace_body(f"file://{repo}", commit, [("calc.py", NOSE_CALC_BUGGY, NOSE_CALC_FIXED)])
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert qa["outcome"] == "completed", (qa.get("error"), environment.get("build_log_tail"))
        assert environment["plan"]["packages"] == ["pytest<8"]
        assert any("predates pytest 8.0" in note for note in environment["plan"]["notes"])
        assert qa["resolved"] is True, qa["test_output"][-3000:]
        assert qa["fail_to_pass"] == ["tests/test_calc.py::TestAdd::test_add"]
        assert qa["pass_to_pass"] == [
            "test_plain.py::test_plain",
            "tests/test_calc.py::TestAdd::test_add_zero",
            "tests/test_calc.py::test_runs_under_the_pytest_of_its_time",
        ]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


# Written in 2019 against MarkupSafe 1.1: `soft_unicode`, which MarkupSafe 2.1 (2022) removed. The project
# declares `MarkupSafe>=0.23` only, so today's release breaks its import in both runs.
ERA_SETUP = "from setuptools import setup\n\nsetup(name='eraproj', install_requires=['MarkupSafe>=0.23'])\n"
ERA_BUGGY = "from markupsafe import soft_unicode\n\n\ndef add(a, b):\n    return soft_unicode(a - b)\n"
ERA_FIXED = ERA_BUGGY.replace("a - b", "a + b")
ERA_TEST = "from eraproj import add\n\n\ndef test_add():\n    assert add(2, 3) == '5'\n"


def test_an_old_project_gets_the_runtime_dependencies_of_its_time(
    client, keys, worker, repos_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = repos_dir / "era-dependencies"
    with monkeypatch.context() as dated:
        for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            dated.setenv(name, "2019-10-14T12:00:00+00:00")
        files = {"setup.py": ERA_SETUP, "eraproj/__init__.py": ERA_BUGGY, "tests/test_eraproj.py": ERA_TEST}
        commit = plain_repo(repo, files)
    body = trace_body(f"file://{repo}", commit, [("eraproj/__init__.py", ERA_BUGGY, ERA_FIXED)])
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert qa["outcome"] == "completed", (qa.get("error"), environment.get("build_log_tail"))
        plan = environment["plan"]
        assert plan["project_imports"] == ["eraproj"]
        assert plan["dependencies_as_of"] == "2019-11-01T00:00:00Z"
        [note] = environment["build_notes"]
        assert "as of 2019-11-01T00:00:00Z (MarkupSafe-1.1.1): the project imports now" in note, note
        assert "soft_unicode" in note
        assert qa["resolved"] is True, qa["test_output"][-3000:]
        assert qa["fail_to_pass"] == ["tests/test_eraproj.py::test_add"]
        assert qa["pass_to_pass"] == ["test_plain.py::test_plain"]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


# requests 2022: requirements-dev.txt pins Flask<2.0, whose Jinja2 2.x imports `soft_unicode` from today's
# MarkupSafe (gone since 2.1), so the conftest fails in both runs. The same shape with Jinja2<3.0 itself: the
# project imports, the declared test dependency does not, and what it requires is rewound to the commit's
# date.
DECLARED_CONFTEST = "import jinja2\n"
DECLARED_BUGGY = "def render(name):\n    return 'Hello ' + name.upper()\n"
DECLARED_FIXED = "def render(name):\n    return 'Hello ' + name\n"
DECLARED_TEST = (
    "import jinja2\n\nfrom declproj import render\n\n\ndef test_render():\n"
    "    assert jinja2.Template('Hello {{ n }}').render(n='x') == render('x')\n"
)


def test_an_old_suites_declared_test_dependencies_get_what_they_require_as_of_its_time(
    client, keys, worker, repos_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = repos_dir / "era-declared"
    with monkeypatch.context() as dated:
        for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            dated.setenv(name, "2021-06-14T12:00:00+00:00")
        files = {
            "setup.py": "from setuptools import setup\n\nsetup(name='declproj', packages=['declproj'])\n",
            "requirements-dev.txt": "Jinja2<3.0\n",
            "declproj/__init__.py": DECLARED_BUGGY,
            "tests/conftest.py": DECLARED_CONFTEST,
            "tests/test_render.py": DECLARED_TEST,
        }
        commit = plain_repo(repo, files)
    body = trace_body(f"file://{repo}", commit, [("declproj/__init__.py", DECLARED_BUGGY, DECLARED_FIXED)])
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert qa["outcome"] == "completed", (qa.get("error"), environment.get("build_log_tail"))
        assert environment["plan"]["dependencies_as_of"] == "2021-07-01T00:00:00Z"
        [note] = environment["build_notes"]
        assert "test dependencies' requirements as of 2021-07-01T00:00:00Z (" in note, note
        assert "jinja2 import now" in note and "soft_unicode" in note, note
        assert qa["resolved"] is True, qa["test_output"][-3000:]
        assert qa["fail_to_pass"] == ["tests/test_render.py::test_render"]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


def test_a_conftest_that_cannot_import_is_reported_by_the_test_run_not_as_a_failed_install(
    client, keys, worker, repos_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    # pytest 6 (the era of a 2020 commit) loads the initial conftests even for `--version`, and under
    # `filterwarnings = error` their import error is a config error; the build's `pytest --version` runs
    # outside the checkout, so the image builds and the test run names the cause (an environment error).
    repo = repos_dir / "conftest-import"
    fixed = "def one():\n    return 1\n"
    files = {
        "setup.py": "from setuptools import setup\n\nsetup(name='cfimport', py_modules=['cfimport'])\n",
        "setup.cfg": "[tool:pytest]\ntestpaths = tests\nfilterwarnings =\n    error\n",
        "cfimport.py": "def one():\n    return 2\n",
        "tests/conftest.py": "raise ImportError('bugtrail-test: this conftest cannot import')\n",
        "tests/test_cf.py": "from cfimport import one\n\n\ndef test_one():\n    assert one() == 1\n",
    }
    with monkeypatch.context() as dated:
        for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
            dated.setenv(name, "2020-06-01T12:00:00+00:00")
        commit = plain_repo(repo, files)
    body = trace_body(f"file://{repo}", commit, [("cfimport.py", files["cfimport.py"], fixed)])
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert environment["build_s"] is not None, environment.get("build_log_tail")
        assert "pytest<7" in environment["plan"]["packages"]
        assert qa["outcome"] == "error" and qa["error_kind"] == "environment", qa
        assert "this conftest cannot import" in (qa["error"] or "") + (qa["test_output"] or ""), qa["error"]
        assert "install failed" not in (qa["error"] or ""), qa["error"]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)


# A project whose setup.py builds a C extension (no pure-Python fallback), and a fix in the C source: the
# image needs a compiler, and the edited extension must be rebuilt before the after run (the one the image
# built from the base commit is restored into the work tree at test time).
C_SETUP = (
    "from setuptools import Extension, setup\n\n"
    "setup(name='cext', packages=['cext'], ext_modules=[Extension('cext._add', ['cext/_add.c'])])\n"
)
C_BUGGY = """#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a - b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_add", NULL, -1, methods};
PyMODINIT_FUNC PyInit__add(void) { return PyModule_Create(&module); }
"""
C_FIXED = C_BUGGY.replace("a - b", "a + b")
C_TEST = "from cext._add import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def test_a_fix_in_a_c_extension_is_compiled_and_graded(
    client, keys, worker, repos_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = repos_dir / "c-extension"
    files = {"setup.py": C_SETUP, "cext/__init__.py": "", "cext/_add.c": C_BUGGY}
    files["tests/test_cext.py"] = C_TEST
    commit = plain_repo(repo, files)
    body = trace_body(f"file://{repo}", commit, [("cext/_add.c", C_BUGGY, C_FIXED)])
    qa = submit_and_run(client, keys, worker, body)["qa_results"]
    environment = qa["environment"]
    try:
        assert qa["outcome"] == "completed", (qa.get("error"), environment.get("build_log_tail"))
        assert environment["plan"]["native_sources"] == ["cext/_add.c"]
        notes = environment["build_notes"]
        assert any("a compiler and the Python headers installed" in note for note in notes), notes
        assert qa["resolved"] is True, qa["test_output"][-3000:]
        assert qa["fail_to_pass"] == ["tests/test_cext.py::test_add"]
        assert "rebuilding them in place" in qa["test_output"], qa["test_output"][-3000:]
    finally:
        subprocess.run(["docker", "rmi", "-f", environment["image"]], capture_output=True, check=False)
