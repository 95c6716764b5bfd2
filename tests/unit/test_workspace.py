"""Clone cache, allowlist and scratch checkouts against real local git repositories."""

import subprocess
import time
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.qa.errors import QaInfraError, QaInputError, QaSkipped
from bugtrail.qa.workspace import checkout, ensure_mirror, mirror_path, repo_allowed


def run(*args: str, cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path) -> str:
    path.mkdir()
    run("git", "init", "-q", "-b", "main", cwd=path)
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    run("git", "add", ".", cwd=path)
    run("git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init", cwd=path)
    return run("git", "rev-parse", "HEAD", cwd=path)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://github.com/psf/requests", True),
        ("https://github.com.evil.example/x", False),
        ("http://github.com/psf/requests", False),
        ("file:///srv/repos/x", False),
        ("-uhttps://github.com/x", False),
        ("https://github.com/a b", False),
    ],
)
def test_default_allowlist(url: str, allowed: bool):
    assert repo_allowed(url, Settings().repo_allowlist) is allowed


def test_allowlist_prefix_without_slash_stops_at_a_boundary():
    assert repo_allowed("https://git.example.com/x", ["https://git.example.com"])
    assert not repo_allowed("https://git.example.com.evil/x", ["https://git.example.com"])
    assert repo_allowed("file:///srv/repos/x", ["file:///srv/repos/"])


def settings_for(tmp_path: Path, allow: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", repo_allowlist=allow)


def test_mirror_is_cloned_once_then_reused_and_fetched_for_new_commits(tmp_path: Path):
    origin = tmp_path / "origin"
    first = make_repo(origin)
    settings = settings_for(tmp_path, f"file://{tmp_path}/")
    url = f"file://{origin}"
    mirror = ensure_mirror(settings, url, first)
    assert mirror == mirror_path(settings, url) and (mirror / "HEAD").is_file()

    (origin / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    run("git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "fix", cwd=origin)
    second = run("git", "rev-parse", "HEAD", cwd=origin)
    assert ensure_mirror(settings, url, second) == mirror  # fetched, not re-cloned

    dest = tmp_path / "scratch" / "repo"
    started = time.monotonic()
    ensure_mirror(settings, url, first)
    checkout(mirror, first, dest)
    assert time.monotonic() - started < 1.0  # warm cache target
    assert "a - b" in (dest / "calc.py").read_text()
    assert run("git", "rev-parse", "HEAD", cwd=dest) == first


def test_missing_commit_is_an_input_error(tmp_path: Path):
    origin = tmp_path / "origin"
    make_repo(origin)
    settings = settings_for(tmp_path, f"file://{tmp_path}/")
    with pytest.raises(QaInputError, match="base_commit does not exist"):
        ensure_mirror(settings, f"file://{origin}", "0" * 40)


def test_repo_outside_allowlist_is_skipped_before_any_git_call(tmp_path: Path):
    origin = tmp_path / "origin"
    commit = make_repo(origin)
    settings = settings_for(tmp_path, "https://github.com/")
    with pytest.raises(QaSkipped, match="allowlist"):
        ensure_mirror(settings, f"file://{origin}", commit)
    assert not settings.resolved_clone_cache_dir.exists()


def test_unreachable_repo_is_an_infrastructure_error(tmp_path: Path):
    settings = settings_for(tmp_path, f"file://{tmp_path}/")
    with pytest.raises(QaInfraError, match="could not clone"):
        ensure_mirror(settings, f"file://{tmp_path}/nope", "1" * 40)
    assert not list(settings.resolved_clone_cache_dir.glob("*.git"))
