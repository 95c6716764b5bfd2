"""The history cut on real git repositories: a scratch checkout holds base_commit's history, nothing later."""

import subprocess
from pathlib import Path

from bugtrail.qa.workspace import checkout, copy_checkout, history_cut
from tests.support.buggy_repo import make_buggy_repo
from tests.support.future_repo import FUTURE_BRANCH, FUTURE_MARKER, FUTURE_TAG, add_future


def git_out(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, errors="replace", check=False
    )


def assert_no_future(tree: Path, base: str, later: list[str]) -> None:
    everything = git_out(tree, "log", "--all", "--reflog", "--format=%H").stdout.split()
    assert base in everything
    for sha in later:
        assert sha not in everything
        assert git_out(tree, "cat-file", "-e", sha).returncode != 0  # not even an unreachable object
    objects = git_out(tree, "cat-file", "--batch-all-objects", "--batch").stdout
    assert FUTURE_MARKER not in objects and "return a + b" not in objects
    refs = git_out(tree, "for-each-ref", "--format=%(refname)").stdout
    assert FUTURE_TAG not in refs and FUTURE_BRANCH not in refs and "refs/remotes" not in refs
    assert not (tree / ".git" / "objects" / "info" / "alternates").exists()  # nothing borrowed


def test_checkout_and_its_copies_hold_only_base_commits_history(tmp_path: Path):
    repo = make_buggy_repo(tmp_path / "calc")
    future = add_future(repo)
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(mirror)], check=True)

    tree = tmp_path / "scratch" / "before" / "repo"
    checkout(mirror, repo.base_commit, tree)
    assert git_out(tree, "rev-parse", "HEAD").stdout.strip() == repo.base_commit
    assert git_out(tree, "status", "--porcelain").stdout == ""
    assert_no_future(tree, repo.base_commit, [future.fix, future.later])
    assert git_out(tree, "tag").stdout.split() == ["v0.1-base"]  # tags on base's history are kept

    base_repo = tmp_path / "scratch" / "base.git"
    history_cut(mirror, repo.base_commit, base_repo)
    copy = tmp_path / "scratch" / "after" / "repo"
    copy_checkout(base_repo, repo.base_commit, copy)
    assert git_out(copy, "rev-parse", "HEAD").stdout.strip() == repo.base_commit
    assert (copy / "calc.py").read_text() == (tree / "calc.py").read_text()
    assert_no_future(copy, repo.base_commit, [future.fix, future.later])
    assert git_out(copy, "remote").stdout == ""  # no path back to the host's repositories


def test_a_depth_keeps_only_the_newest_commits(tmp_path: Path):
    repo = make_buggy_repo(tmp_path / "calc")
    (repo.path / "calc.py").write_text("# second\n")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "2"], cwd=repo.path)
    second = git_out(repo.path, "rev-parse", "HEAD").stdout.strip()
    tree = tmp_path / "tree"
    checkout(repo.path, second, tree, depth=1)
    assert git_out(tree, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    assert git_out(tree, "cat-file", "-e", repo.base_commit).returncode != 0
