"""upstream_match on a real repository: a fix equal to a later commit is flagged with that commit; the same
fix written differently is not; the search is bounded."""

import subprocess
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.qa.patch_lines import trace_patch
from bugtrail.qa.upstream import commit_diffs, find_upstream_match, later_commits
from tests.support.buggy_repo import CALC, FIXED, NEW_TEST, TESTS, BuggyRepo, diff, make_buggy_repo
from tests.support.future_repo import EQUIVALENT_FIX, EQUIVALENT_TEST, FutureCommits, add_future
from tests.support.repos import git, write_files


def patch(edits: list[tuple[str, str, str]]):  # type: ignore[no-untyped-def]
    return trace_patch({"file": file, "diff": diff(file, old, new)} for file, old, new in edits)


def future_repo(tmp_path: Path) -> tuple[BuggyRepo, FutureCommits, Path]:
    repo = make_buggy_repo(tmp_path / "calc")
    future = add_future(repo)
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(mirror)], check=True)
    return repo, future, mirror


def test_a_copied_fix_is_flagged_and_an_equivalent_rewrite_is_not(tmp_path: Path):
    repo, future, mirror = future_repo(tmp_path)
    settings = Settings(data_dir=tmp_path / "data")
    copied = patch([("tests/test_calc.py", TESTS, NEW_TEST), ("calc.py", CALC, FIXED)])
    match = find_upstream_match(settings, mirror, repo.base_commit, copied)
    assert match is not None and match.sha == future.fix and match.similarity == 1.0
    assert match.as_dict() == {"commit": future.fix, "similarity": 1.0}
    # Only the source half copied is still the upstream change on the files the trace touched.
    source_only = patch([("calc.py", CALC, FIXED)])
    assert find_upstream_match(settings, mirror, repo.base_commit, source_only) is not None

    rewritten = patch([("tests/test_calc.py", TESTS, EQUIVALENT_TEST), ("calc.py", CALC, EQUIVALENT_FIX)])
    assert find_upstream_match(settings, mirror, repo.base_commit, rewritten) is None
    # The commit that fixed it is found as a candidate; it is the similarity that keeps it apart.
    assert future.fix in later_commits(mirror, repo.base_commit, ["calc.py"], 10)


def test_nothing_before_base_commit_and_nothing_outside_the_bounds_is_compared(tmp_path: Path):
    repo, future, mirror = future_repo(tmp_path)
    copied = patch([("tests/test_calc.py", TESTS, NEW_TEST), ("calc.py", CALC, FIXED)])
    # From the fix commit on, the fix is history, not the future.
    assert find_upstream_match(Settings(), mirror, future.fix, copied) is None
    assert find_upstream_match(Settings(upstream_max_commits=0), mirror, repo.base_commit, copied) is None
    tiny = Settings(upstream_max_diff_bytes=1024)
    write_files(repo.path, {"calc.py": FIXED + "".join(f"# padding {i}\n" for i in range(200))})
    git(repo.path, "commit", "-qam", "a huge change")
    subprocess.run(["git", "--git-dir", str(mirror), "fetch", "-q", "origin"], check=True)
    assert find_upstream_match(tiny, mirror, repo.base_commit, copied) is not None  # the small fix still is
    huge = git(repo.path, "rev-parse", "HEAD")
    candidates = later_commits(mirror, repo.base_commit, ["calc.py"], 10)
    assert huge in candidates
    compared = [sha for sha, _ in commit_diffs(mirror, candidates, ["calc.py"], 1024)]
    assert future.fix in compared and huge not in compared  # over the byte cap: not compared
    assert later_commits(mirror, repo.base_commit, ["calc.py"], 1) == [future.fix]  # the oldest first
    assert find_upstream_match(Settings(), mirror, repo.base_commit, patch([])) is None


def test_file_names_are_never_pathspec_magic(tmp_path: Path):
    repo, _future, mirror = future_repo(tmp_path)
    magic = trace_patch([{"file": ":(glob)**", "diff": "@@ -1 +1 @@\n-return a - b\n+return a + b\n"}])
    assert later_commits(mirror, repo.base_commit, [":(glob)**"], 10) == []
    assert find_upstream_match(Settings(), mirror, repo.base_commit, magic) is None


def test_a_pull_request_merged_without_squashing_matches_by_its_merge(tmp_path: Path):
    """The fix arrives in two commits on a branch, merged with --no-ff: no single commit is the fix, the
    merge's first-parent diff is."""
    repo = make_buggy_repo(tmp_path / "calc")
    git(repo.path, "checkout", "-q", "-b", "pr")
    write_files(repo.path, {"tests/test_calc.py": NEW_TEST})
    git(repo.path, "commit", "-qam", "test first")
    write_files(repo.path, {"calc.py": FIXED})
    git(repo.path, "commit", "-qam", "then the fix")
    git(repo.path, "checkout", "-q", "main")
    write_files(repo.path, {"README": "unrelated\n"})
    git(repo.path, "add", "README")
    git(repo.path, "commit", "-qm", "meanwhile on main")
    git(repo.path, "merge", "-q", "--no-ff", "pr", "-m", "Merge pull request #1")
    merge = git(repo.path, "rev-parse", "HEAD")
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(mirror)], check=True)
    copied = patch([("tests/test_calc.py", TESTS, NEW_TEST), ("calc.py", CALC, FIXED)])
    match = find_upstream_match(Settings(), mirror, repo.base_commit, copied)
    assert match is not None and match.sha == merge and match.similarity == 1.0
