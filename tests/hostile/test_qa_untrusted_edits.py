"""Edits are attacker input: they must not reach .git, nor write or unlink outside the scratch tree.

Real git, real patch, a real work tree; no Docker needed. The pipeline-level versions (a real QA replay
through a file:// repository) are in tests/docker/test_qa_sandbox.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bugtrail.qa.patching import EditSpec, apply_edits

PATTERNS = ["tests/*"]
CALC = "".join(f"line {i}\n" for i in range(20))


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "pkg" / "mod.py").write_text("x = 1\n")
    (repo / "other.py").write_text("a\nb\nc\n")
    return repo


def edit(i: int, file: str, diff: str, **extra: object) -> EditSpec:
    return EditSpec(index=i, event_id=f"e{i}", details={"file": file, "diff": diff, **extra})


def filter_chain(config_path: str, attributes_path: str, marker: Path) -> str:
    """A diff that installs a clean filter (writes `marker`) via .git/config and .git/info/attributes."""
    return (
        f"--- a/{config_path}\n+++ b/{config_path}\n@@ -1 +1,3 @@\n"
        f'+[filter "pwn"]\n+\tclean = touch {marker}\n [core]\n'
        f"--- /dev/null\n+++ b/{attributes_path}\n@@ -0,0 +1 @@\n+* filter=pwn\n"
    )


def innocent_second_edit() -> EditSpec:
    diff = "--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n line 0\n-line 1\n+line one\n line 2\n"
    return edit(1, "calc.py", diff)


@pytest.mark.parametrize(
    ("config_path", "attributes_path"),
    [
        (".git/config", ".git/info/attributes"),
        (".GIT/config", ".GIT/info/attributes"),
        ("sub/../.git/config", "sub/../.git/info/attributes"),
        ("./.git/config", "./.git/info/attributes"),
    ],
)
def test_git_filter_chain_is_refused_and_never_runs(
    tree: Path, tmp_path: Path, config_path: str, attributes_path: str
):
    marker = tmp_path / "pwned"
    first = edit(0, "calc.py", filter_chain(config_path, attributes_path, marker))
    reports = apply_edits(tree, [first, innocent_second_edit()], PATTERNS)
    assert not reports[0].applied and reports[0].refused, reports[0]
    assert ".git" in (reports[0].error or "")
    assert reports[1].applied, reports[1]
    assert not marker.exists()
    assert "pwn" not in (tree / ".git" / "config").read_text()
    assert not (tree / ".git" / "info" / "attributes").exists()


def test_filter_chain_hidden_inside_a_hunk_never_reaches_patch(tree: Path, tmp_path: Path):
    """`--recount` makes git read the .git section as hunk lines; patch would see a second file."""
    marker = tmp_path / "pwned"
    diff = "--- a/other.py\n+++ b/other.py\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n" + filter_chain(
        ".git/config", ".git/info/attributes", marker
    )
    reports = apply_edits(tree, [edit(0, "other.py", diff), innocent_second_edit()], PATTERNS)
    assert not reports[0].applied and reports[0].refused
    assert not marker.exists() and not (tree / ".git" / "info" / "attributes").exists()


@pytest.mark.parametrize(
    "details",
    [
        {
            "file": ".git/hooks/post-checkout",
            "diff": "--- /dev/null\n+++ b/.git/hooks/post-checkout\n@@ -0,0 +1 @@\n+x\n",
        },
        {"file": "sub/../.git/hooks/x", "diff": ""},
        {"file": ".git/config", "diff": "", "deleted": True},
        {"file": ".Git/moved", "diff": "", "renamed_from": "calc.py"},
        {"file": "moved.py", "diff": "", "renamed_from": ".git/config"},
        {"file": "/etc/passwd", "diff": "", "deleted": True},
        {"file": "a/./b.py", "diff": ""},
        {
            "file": "calc.py",
            "diff": "diff --git a/calc.py b/.git/x\nsimilarity index 100%\nrename from calc.py\n"
            "rename to .git/x\n",
        },
        {
            "file": "calc.py",
            "diff": "Index: .git/config\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-line 0\n+z\n",
        },
    ],
)
def test_unsafe_paths_are_refused_for_every_method(tree: Path, details: dict):
    before = (tree / ".git" / "config").read_text()
    [report] = apply_edits(tree, [EditSpec(0, "e0", details)], PATTERNS)
    assert not report.applied and report.refused, report
    assert (tree / ".git" / "config").read_text() == before
    assert (tree / "calc.py").read_text() == CALC
    assert not (tree / ".git" / "hooks" / "x").exists() and not (tree / ".git" / "x").exists()


def symlink_section(path: str, target: Path, old: str | None = None) -> str:
    """git's type-change diff: `path` (a file with `old` content, or a directory's absence) becomes a link."""
    removed = ""
    if old is not None:
        lines = old.splitlines()
        removed = (
            f"diff --git a/{path} b/{path}\ndeleted file mode 100644\n--- a/{path}\n+++ /dev/null\n"
            f"@@ -1,{len(lines)} +0,0 @@\n" + "".join(f"-{line}\n" for line in lines)
        )
    return removed + (
        f"diff --git a/{path} b/{path}\nnew file mode 120000\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
    )


def failing_hunk(header_like: list[str] = []) -> str:  # noqa: B006 (read-only default)
    """A hunk for other.py that never matches, so `git apply --reject` applies the rest and fails.

    Its added lines may look like `+++ b/<path>` headers: a tool reading headers takes them for targets.
    """
    added = [f"++ b/{path}" for path in header_like] or ["y"]
    body = "".join(f"+{line}\n" for line in added)
    return (
        f"diff --git a/other.py b/other.py\n--- a/other.py\n+++ b/other.py\n"
        f"@@ -1,3 +1,{len(added) + 2} @@\n a\n-zzz\n{body} c\n"
    )


BAITS = [f"f{n}.txt" for n in range(10)]


def outside_dir(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    for name in ["victim.txt", "mod.py", *BAITS]:
        (outside / name).write_text("precious\n")
    return outside


def outside_state(outside: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(outside.iterdir())}


def deleted_section(path: str, content: str) -> str:
    lines = content.splitlines()
    return (
        f"diff --git a/{path} b/{path}\ndeleted file mode 100644\n--- a/{path}\n+++ /dev/null\n"
        f"@@ -1,{len(lines)} +0,0 @@\n" + "".join(f"-{line}\n" for line in lines)
    )


@pytest.mark.parametrize("shape", ["file-becomes-link", "parent-becomes-link", "new-link-dir"])
@pytest.mark.parametrize("round_", range(3))
def test_rollback_never_writes_or_unlinks_through_a_symlink(
    tree: Path, tmp_path: Path, shape: str, round_: int
):
    outside = outside_dir(tmp_path)
    expected = outside_state(outside)
    if shape == "file-becomes-link":  # the restore of calc.py would write its old content into the victim
        diff = symlink_section("calc.py", outside / "victim.txt", CALC) + failing_hunk()
        file = "calc.py"
    elif shape == "parent-becomes-link":  # restores under pkg/ would write or unlink files in outside/
        diff = deleted_section("pkg/mod.py", "x = 1\n") + symlink_section("pkg", outside)
        diff += failing_hunk([f"pkg/{name}" for name in BAITS])
        file = "pkg/mod.py"
    else:  # "nothing was at dir/f0.txt" would unlink outside/f0.txt through the new link
        diff = symlink_section("dir", outside) + failing_hunk([f"dir/{name}" for name in BAITS])
        file = "dir"
    [report] = apply_edits(tree, [edit(0, file, diff)], PATTERNS)
    assert not report.applied, report
    assert "git-apply-reject: Applied patch" in " ".join(report.attempts)  # the partial apply happened
    assert outside_state(outside) == expected
    assert (tree / "calc.py").read_text() == CALC and not (tree / "calc.py").is_symlink()
    assert (tree / "pkg" / "mod.py").read_text() == "x = 1\n" and not (tree / "pkg").is_symlink()
    assert not (tree / "dir").is_symlink()


def test_symlink_pointing_outside_is_refused_even_when_the_diff_applies(tree: Path, tmp_path: Path):
    outside = outside_dir(tmp_path)
    [report] = apply_edits(
        tree, [edit(0, "calc.py", symlink_section("calc.py", outside / "victim.txt", CALC))], PATTERNS
    )
    assert not report.applied and report.refused and "outside" in (report.error or "")
    assert (tree / "calc.py").read_text() == CALC and not (tree / "calc.py").is_symlink()


def test_symlink_inside_the_tree_is_kept(tree: Path):
    diff = symlink_section("alias.py", Path("calc.py"))
    [report] = apply_edits(tree, [edit(0, "alias.py", diff)], PATTERNS)
    assert report.applied, report
    assert (tree / "alias.py").is_symlink() and (tree / "alias.py").read_text() == CALC
