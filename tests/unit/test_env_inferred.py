"""Inferred test needs: imports, guards, own modules, fixtures, markers, pytest_plugins, bounds, bad files."""

from __future__ import annotations

from pathlib import Path

from bugtrail.qa.environments.import_names import distribution_for
from bugtrail.qa.environments.inferred import Inference, command_targets, infer_needs
from bugtrail.qa.environments.inferred_edits import edit_findings
from tests.support.repos import write_files


def write(root: Path, files: dict[str, str]) -> Path:
    write_files(root, dict(files))
    return root


def needed(inference: Inference) -> dict[str, str]:
    return {n.distribution: n.module for n in inference.needs}


def test_imports_are_mapped_and_stdlib_and_own_modules_are_left_out(tmp_path: Path):
    write(
        tmp_path,
        {
            "src/mypkg/__init__.py": "",
            "tests/helpers.py": "",
            "tests/test_a.py": (
                "import os, json\nimport yaml\nfrom dateutil import tz\nimport mypkg.sub\n"
                "from helpers import x\nfrom . import sibling\nfrom .other import y\n"
                "import google.protobuf.message\nimport PIL.Image\nimport pytest\n"
                "def test_x():\n    import hypothesis.strategies\n"
            ),
        },
    )
    inference = infer_needs(tmp_path, "python -m pytest -q tests/test_a.py")
    assert needed(inference) == {
        "PyYAML": "yaml",
        "python-dateutil": "dateutil",
        "protobuf": "google.protobuf",
        "Pillow": "PIL",
        "hypothesis": "hypothesis",
    }
    assert inference.files == ["tests/test_a.py", "tests/helpers.py"]  # a helper module is read too
    why = {n.distribution: n.why for n in inference.needs}
    assert why["PyYAML"] == "imported by tests/test_a.py"


def test_guarded_imports_are_optional_unless_also_required(tmp_path: Path):
    write(
        tmp_path,
        {
            "test_g.py": (
                "import sys\nfrom typing import TYPE_CHECKING\n"
                "try:\n    import numpy\nexcept ImportError:\n    numpy = None\n"
                "try:\n    import ujson\nexcept (ValueError, ModuleNotFoundError):\n    pass\n"
                "try:\n    import toml\nexcept ValueError:\n    pass\n"
                "if TYPE_CHECKING:\n    import pandas\n"
                "if sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli\n"
                "import pytest\nlxml = pytest.importorskip('lxml')\n"
                "def test_one():\n    import ujson\n"
            ),
        },
    )
    inference = infer_needs(tmp_path, "pytest test_g.py")
    assert needed(inference) == {"ujson": "ujson", "toml": "toml"}
    assert sorted(n.distribution for n in inference.optional) == ["lxml", "numpy", "pandas", "tomli"]


def test_fixtures_markers_and_pytest_plugins(tmp_path: Path):
    write(
        tmp_path,
        {
            "conftest.py": (
                "import pytest\npytest_plugins = ['pytester', 'tests.fixtures', 'pytest_httpserver']\n"
                "@pytest.fixture\ndef client(mocker):\n    return mocker\n"
                "@pytest.fixture(name='snapshot')\ndef own_snapshot():\n    return 1\n"
            ),
            "tests/__init__.py": "",
            "tests/fixtures.py": "",
            "tests/test_f.py": (
                "import pytest\nfrom pytest import mark\n"
                "pytestmark = pytest.mark.django_db\n"
                "@pytest.mark.asyncio\nasync def test_a(event_loop, snapshot, tmp_path):\n    pass\n"
                "@mark.timeout(5)\ndef test_b(client, benchmark):\n    pass\n"
                "@pytest.mark.parametrize('freezer', [1, 2])\ndef test_c(freezer):\n    pass\n"
                "@pytest.mark.usefixtures('requests_mock')\nclass TestD:\n"
                "    def test_d(self, httpx_mock):\n        pass\n"
            ),
        },
    )
    inference = infer_needs(tmp_path, "pytest tests/test_f.py::TestD::test_d -q")
    assert needed(inference) == {
        "pytest-mock": "pytest_mock",
        "pytest-httpserver": "pytest_httpserver",
        "pytest-django": "pytest_django",
        "pytest-asyncio": "pytest_asyncio",
        "pytest-timeout": "pytest_timeout",
        "pytest-benchmark": "pytest_benchmark",
        "requests-mock": "requests_mock",
        "pytest-httpx": "pytest_httpx",
    }
    # the conftest between test and root, then the test, then the pytest_plugins module
    assert inference.files == ["conftest.py", "tests/test_f.py", "tests/fixtures.py"]
    why = {n.distribution: n.why for n in inference.needs}
    assert why["pytest-mock"] == "fixture 'mocker' in conftest.py"
    assert why["pytest-django"] == "marker 'django_db' in tests/test_f.py"
    assert why["pytest-httpserver"] == "pytest_plugins in conftest.py"


def test_a_directory_or_no_path_reads_the_test_files_under_it(tmp_path: Path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "import requests\n",  # not a test file: not read
            "tests/unit/conftest.py": "import attr\n",
            "tests/unit/test_u.py": "import six\n",
            "tests/unit/util_test.py": "import toolz\n",
            "tests/other/test_o.py": "import bs4\n",
            "tests/other/data.py": "import cv2\n",
        },
    )
    unit = infer_needs(tmp_path, "python -m pytest tests/unit")
    assert needed(unit) == {"attrs": "attr", "six": "six", "toolz": "toolz"}
    everything = infer_needs(tmp_path, "tox -e py311")
    assert set(needed(everything)) == {"attrs", "six", "toolz", "beautifulsoup4"}
    assert "the whole tree" in everything.notes[0]


def test_a_test_file_the_edits_add_stands_for_its_directory(tmp_path: Path):
    write(tmp_path, {"tests/test_old.py": "import six\n", "tests/conftest.py": "import attr\n"})
    assert command_targets(tmp_path, "pytest tests/test_new.py::test_x") == ["tests"]
    assert set(needed(infer_needs(tmp_path, "pytest tests/test_new.py"))) == {"six", "attrs"}


def test_hostile_commands_name_nothing_outside_the_tree(tmp_path: Path):
    (tmp_path / "repo").mkdir()
    write(tmp_path, {"outside/test_x.py": "import six\n", "repo/test_in.py": "import attr\n"})
    repo = tmp_path / "repo"
    assert command_targets(repo, "pytest ../outside/test_x.py /etc/passwd 'unterminated") == []
    assert command_targets(repo, "pytest ../outside/test_x.py /etc/passwd") == []
    (repo / "escape").symlink_to(tmp_path / "outside")
    assert command_targets(repo, "pytest escape/test_x.py") == []
    (repo / "loop-a").symlink_to(repo / "loop-b")
    (repo / "loop-b").symlink_to(repo / "loop-a")
    assert command_targets(repo, f"pytest loop-a loop-b/x.py {'y' * 5000} {'../' * 300}") == []
    assert needed(infer_needs(repo, "pytest ../outside")) == {"attrs": "attr"}


def test_unparsable_large_and_symlinked_files_are_notes_not_failures(tmp_path: Path):
    write(
        tmp_path,
        {
            "tests/test_bad.py": "def broken(:\n",
            "tests/test_big.py": "import six\n" + "x = 1\n" * 30_000,
            "tests/test_ok.py": "import attr\n",
            "tests/test_bin.py": "\0\0\0",
        },
    )
    (tmp_path / "tests" / "test_link.py").symlink_to(tmp_path / "tests" / "test_ok.py")
    inference = infer_needs(tmp_path, "pytest tests", max_file_bytes=64 * 1024)
    assert needed(inference) == {"attrs": "attr"}
    notes = "\n".join(inference.notes)
    assert "tests/test_bad.py does not parse" in notes
    assert "tests/test_bin.py does not parse" in notes
    assert "tests/test_big.py skipped" in notes
    assert "tests/test_link.py skipped" in notes


def test_bounds_on_files_walk_and_time(tmp_path: Path):
    write(tmp_path, {f"tests/test_{i:03}.py": f"import dist{i:03}\n" for i in range(30)})
    capped = infer_needs(tmp_path, "pytest", max_files=5)
    assert len(capped.needs) == 5 and "read the first 5 of 30 files" in "\n".join(capped.notes)
    walked = infer_needs(tmp_path, "pytest", max_entries=10)
    assert "the walk stopped there" in walked.notes[0]
    timed = infer_needs(tmp_path, "pytest", max_seconds=0.0)
    assert timed.needs == [] and "stopped after 0s" in "\n".join(timed.notes)


def test_environments_and_vendored_site_packages_are_not_own_modules(tmp_path: Path):
    write(
        tmp_path,
        {
            ".venv/lib/python3.11/site-packages/yaml/__init__.py": "",
            "venv2/pyvenv.cfg": "",
            "venv2/lib/python3.11/site-packages/six.py": "",
            "node_modules/attr.py": "",
            "test_v.py": "import yaml, six, attr\n",
        },
    )
    assert set(needed(infer_needs(tmp_path, "pytest test_v.py"))) == {"PyYAML", "six", "attrs"}


def test_namespace_distributions():
    assert distribution_for("google.cloud.storage.blob") == ("google-cloud-storage", "google.cloud.storage")
    assert distribution_for("ruamel.yaml") == ("ruamel.yaml", "ruamel.yaml")
    assert distribution_for("zope.interface.verify") == ("zope.interface", "zope.interface")
    assert distribution_for("sklearn.linear_model") == ("scikit-learn", "sklearn")


def test_the_tests_own_helper_modules_are_followed(tmp_path: Path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/core.py": "import requests\n",  # the project's code: its needs are its declared ones
            "pkg/testutils.py": "import mock\nfrom pkg import core\n",
            "pkg/core_test.py": "from pkg import testutils\nfrom pkg import core\n",
            "tests/__init__.py": "",
            "tests/conftest.py": "pytest_plugins = ['tests.fixtures']\n",
            "tests/fixtures.py": "import responses\n",
            "tests/helpers.py": "from .support import thing\n",
            "tests/support.py": "import attr\n",
            "tests/test_a.py": "from helpers import x\n",
        },
    )
    inference = infer_needs(tmp_path, "python -m pytest -q pkg/core_test.py tests/test_a.py")
    assert needed(inference) == {"mock": "mock", "responses": "responses", "attrs": "attr"}
    assert "pkg/core.py" not in inference.files
    assert {"pkg/testutils.py", "tests/fixtures.py", "tests/helpers.py", "tests/support.py"} <= set(
        inference.files
    )
    why = {n.distribution: n.why for n in inference.needs}
    assert why["mock"] == "imported by pkg/testutils.py"


EDIT_DIFF = """--- a/tests/test_new.py
+++ b/tests/test_new.py
@@ -0,0 +1,20 @@
+import json
+import hypothesis.strategies as st
+from helpers_added import make
+try:
+    import numpy
+except ImportError:
+    numpy = None
+from typing import TYPE_CHECKING
+if TYPE_CHECKING:
+    import pandas
+
+
+@pytest.mark.asyncio
+async def test_a(event_loop):
+    import ujson
+
+
+@pytest.fixture
+def made(mocker, freezer):
+    return (1,
+            2)
"""


def test_the_trace_edits_add_imports_fixtures_and_markers(tmp_path: Path):
    write(tmp_path, {"tests/test_old.py": "import six\n"})
    events = [
        {"file": "tests/test_new.py", "diff": EDIT_DIFF},
        {"file": "tests/helpers_added.py", "diff": "+import attr\n"},  # a new helper of the tests
        {"file": "src/pkg/core.py", "diff": "+import requests\n"},  # not a test file: not read
        {"file": 3, "diff": None},  # hostile: ignored
        {"file": "tests/test_bad.py", "diff": "+def broken(:\n+import toml\n"},
    ]
    edited, names = edit_findings(events)
    assert {"helpers_added", "core", "pkg"} <= names
    inference = infer_needs(tmp_path, "pytest tests/test_new.py", edited=edited, edited_names=names)
    assert needed(inference) == {
        "six": "six",
        "hypothesis": "hypothesis",
        "ujson": "ujson",
        "pytest-asyncio": "pytest_asyncio",
        "pytest-mock": "pytest_mock",
        "pytest-freezer": "pytest_freezer",
        "attrs": "attr",
        "toml": "toml",
    }
    assert sorted(n.distribution for n in inference.optional) == ["numpy", "pandas"]
    why = {n.distribution: n.why for n in inference.needs}
    assert why["hypothesis"] == "imported by tests/test_new.py (edited)"
    assert why["pytest-mock"] == "fixture 'mocker' in tests/test_new.py (edited)"
