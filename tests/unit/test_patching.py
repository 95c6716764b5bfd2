"""Replaying edit events on a real git work tree."""

import difflib
import subprocess
from pathlib import Path

import pytest

from bugtrail.config import DEFAULT_TEST_FILE_PATTERNS
from bugtrail.qa.patching import EditSpec, apply_edits, command_test_files, is_test_file

PATTERNS = ["tests/*", "test_*.py", "*/test_*.py", "conftest.py"]


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "calc.py").write_text("".join(f"line {i}\n" for i in range(20)))
    (repo / "logo.bin").write_bytes(b"\x00\x01")
    return repo


def unified(old: str, new: str, name: str, prefix: bool = True) -> str:
    a, b = (f"a/{name}", f"b/{name}") if prefix else (name, name)
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), a, b))


def edit(i: int, details: dict) -> EditSpec:
    return EditSpec(index=i, event_id=f"e{i}", details=details)


def test_edits_apply_in_order_git_and_plain_headers(tree: Path):
    old = (tree / "calc.py").read_text()
    mid = old.replace("line 3\n", "line three\n")
    new = mid.replace("line 15\n", "line fifteen\n")
    test_new = "def test_x():\n    assert True\n"
    reports = apply_edits(
        tree,
        [
            edit(0, {"file": "calc.py", "diff": unified(old, mid, "calc.py")}),
            edit(1, {"file": "calc.py", "diff": unified(mid, new, "calc.py", prefix=False)}),
            edit(
                2,
                {
                    "file": "tests/test_x.py",
                    "diff": "".join(
                        difflib.unified_diff([], test_new.splitlines(True), "/dev/null", "b/tests/test_x.py")
                    ),
                },
            ),
        ],
        PATTERNS,
    )
    assert [r.applied for r in reports] == [True, True, True], reports
    assert [r.is_test for r in reports] == [False, False, True]
    assert (tree / "calc.py").read_text() == new
    assert (tree / "tests/test_x.py").read_text() == test_new


def test_fuzzy_fallback_applies_a_diff_with_drifted_context(tree: Path):
    old = (tree / "calc.py").read_text()
    diff = unified(old, old.replace("line 10\n", "line ten\n"), "calc.py")
    (tree / "calc.py").write_text(old.replace("line 8\n", "line eight\n"))  # context no longer matches
    [report] = apply_edits(tree, [edit(0, {"file": "calc.py", "diff": diff})], PATTERNS)
    assert report.applied and report.method == "patch-fuzz", report
    assert "line ten" in (tree / "calc.py").read_text()


def test_diff_that_does_not_apply_is_reported_and_rolled_back(tree: Path):
    before = (tree / "calc.py").read_text()
    diff = "--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n nothing\n-like\n+this\n here\n"
    good = unified(before, before.replace("line 0\n", "zero\n"), "calc.py")
    reports = apply_edits(
        tree,
        [edit(0, {"file": "calc.py", "diff": diff}), edit(1, {"file": "calc.py", "diff": good})],
        PATTERNS,
    )
    assert not reports[0].applied and reports[0].error
    assert len(reports[0].attempts) == 3
    assert reports[1].applied
    assert (tree / "calc.py").read_text() == before.replace("line 0\n", "zero\n")
    assert not list(tree.glob("*.rej")) and not list(tree.glob("*.orig"))


def test_binary_edit_without_diff_is_reported(tree: Path):
    [report] = apply_edits(tree, [edit(0, {"file": "logo.bin", "diff": "", "binary": True})], PATTERNS)
    assert not report.applied and "binary" in (report.error or "")


def test_delete_and_rename_flags_without_diff(tree: Path):
    reports = apply_edits(
        tree,
        [
            edit(0, {"file": "calc2.py", "diff": "", "renamed_from": "calc.py"}),
            edit(1, {"file": "logo.bin", "diff": "", "deleted": True}),
        ],
        PATTERNS,
    )
    assert [(r.applied, r.method) for r in reports] == [(True, "rename"), (True, "delete")]
    assert (tree / "calc2.py").exists() and not (tree / "calc.py").exists()
    assert not (tree / "logo.bin").exists()


def test_paths_escaping_the_tree_are_refused(tree: Path, tmp_path: Path):
    (tree / "link").symlink_to(tmp_path)
    diff = "--- /dev/null\n+++ b/link/evil.py\n@@ -0,0 +1 @@\n+x\n"
    [report] = apply_edits(tree, [edit(0, {"file": "link/evil.py", "diff": diff})], PATTERNS)
    assert not report.applied and "outside" in (report.error or "")
    assert not (tmp_path / "evil.py").exists()


def test_test_file_patterns():
    assert is_test_file("tests/unit/test_a.py", PATTERNS)
    assert is_test_file("test_a.py", PATTERNS)
    assert is_test_file("pkg/test_a.py", PATTERNS)
    assert not is_test_file("src/calc.py", PATTERNS)


@pytest.mark.parametrize(
    "path", ["test.py", "tests.py", "pkg/test.py", "app/tests.py", "parser_tests.py", "pkg/io_tests.py"]
)
def test_single_module_suites_are_test_files_by_default(path: str) -> None:
    # python-slugify keeps its whole suite in ./test.py (`python -m unittest test`): an edit to it that is
    # not taken for a test is left out of the before run, and a real fix grades as "not resolved".
    assert is_test_file(path, DEFAULT_TEST_FILE_PATTERNS)


@pytest.mark.parametrize("path", ["calc.py", "src/pkg/testing.py", "pkg/contest.py", "latest.py"])
def test_sources_stay_sources_by_default(path: str) -> None:
    assert not is_test_file(path, DEFAULT_TEST_FILE_PATTERNS)


@pytest.mark.parametrize(
    ("command", "files"),
    [
        # pyparsing 2019 runs its suite as `python unitTests.py`: no default pattern takes that name, so the
        # test edit was left out of the before run and a real fix graded "not resolved".
        ("python unitTests.py", ["unitTests.py"]),
        ("python ./unitTests.py -v", ["unitTests.py"]),
        ("python -m unittest unitTests", ["unitTests.py"]),
        (
            "python -m unittest checks.Suite.test_x",
            ["checks.py", "checks/Suite.py", "checks/Suite/test_x.py"],
        ),
        ("python -m pytest -q checks/verify.py::test_a -k 'a or b'", ["checks/verify.py"]),
        ("pytest 'odd[1].py'", ["odd[[]1].py"]),
        # Nothing outside the tree, no runner whose edits are the project's, no option values, no discovery.
        ("pytest /etc/x.py ../y.py a/../b.py", []),
        ("python setup.py test", []),
        ("python manage.py test app", []),
        ("python -m unittest discover -s tests -p '*_check.py'", []),
        ("python -m unittest -k name", []),
        ("python -m pytest -q", []),
        ("pytest 'unbalanced", []),
        # A module whose doctests are run is the code under test: its edit may be the fix.
        ("python -m pytest --doctest-modules src/pkg/util.py", []),
    ],
)
def test_the_files_a_test_command_runs_are_test_files(command: str, files: list[str]) -> None:
    assert command_test_files(command) == files


def test_command_patterns_match_only_those_files() -> None:
    patterns = command_test_files("python unitTests.py")
    assert is_test_file("unitTests.py", patterns)
    assert not is_test_file("pkg/unitTests.py", patterns) and not is_test_file("unitTests.pyc", patterns)
    assert is_test_file("odd[1].py", command_test_files("pytest 'odd[1].py'"))


def test_patch_only_gets_a_rebuilt_single_file_diff():
    from bugtrail.qa.diff_vetting import hunks_for_patch

    hunk = "@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    assert hunks_for_patch(f"--- a/x.py\n+++ b/x.py\n{hunk}", "x.py") == f"--- a/x.py\n+++ b/x.py\n{hunk}"
    # Counted hunk lines may look like headers; they stay hunk lines.
    tricky = "@@ -1,2 +1,2 @@\n a\n---- a/.git/config\n+++ b/.git/config\n"
    assert hunks_for_patch(tricky, "x.py") == f"--- a/x.py\n+++ b/x.py\n{tricky}"
    for refused in (
        f"Index: .git/config\n--- a/x.py\n+++ b/x.py\n{hunk}",  # a header patch reads, git does not
        f"*** a/x.py\n--- b/x.py\n{hunk}",  # context-diff header
        f"--- a/x.py\n+++ b/x.py\n{hunk}--- a/y.py\n+++ b/y.py\n{hunk}",  # a second file after a hunk
        "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,2 @@\n a\n-b\n+c\n",  # miscounted: patch would read on
        "diff --git a/x.py b/y.py\nrename from x.py\nrename to y.py\n",  # no hunk, a rename
        f"--- a/x.py\n+++ b/x.py\nnew mode 120000\n{hunk}",
    ):
        assert hunks_for_patch(refused, "x.py") is None, refused
