"""Repository access for QA: allowlist, a bare mirror per repo_url (the clone cache), scratch checkouts.

A checkout is a fresh repository holding only base_commit's history (the history cut: nothing from the
future reaches a test container); further work trees of the same job hard-link its objects.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bugtrail.config import Settings
from bugtrail.qa.allowlist import allowlist_problem, repo_allowed
from bugtrail.qa.errors import QaInfraError, QaInputError, QaSkipped
from bugtrail.qa.gitcmd import git

GIT_NETWORK_TIMEOUT_S = 900.0
MAX_TAGS = 2000  # tags copied into a scratch repository (the newest on base_commit's history)

__all__ = [
    "check_repo_allowed",
    "checkout",
    "copy_checkout",
    "ensure_mirror",
    "git",
    "history_cut",
    "mirror_path",
    "repo_allowed",
]


def check_repo_allowed(repo_url: str, settings: Settings) -> None:
    problem = allowlist_problem(repo_url, settings.repo_allowlist)
    if problem is not None:
        raise QaSkipped(
            "repo_url is not in the allowlist",
            f"{repo_url!r}: {problem} (BUGTRAIL_REPO_ALLOWLIST={','.join(settings.repo_allowlist)})",
        )


def mirror_path(settings: Settings, repo_url: str) -> Path:
    digest = hashlib.sha256(repo_url.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))[:40]
    return settings.resolved_clone_cache_dir.resolve() / f"{name or 'repo'}-{digest}.git"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock so workers on one machine never clone/fetch the same mirror at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def has_commit(mirror: Path, commit: str) -> bool:
    return mirror.is_dir() and git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=mirror).returncode == 0


def ensure_mirror(settings: Settings, repo_url: str, commit: str) -> Path:
    """The bare mirror of repo_url, cloned or fetched so that it contains `commit`."""
    check_repo_allowed(repo_url, settings)
    mirror = mirror_path(settings, repo_url)
    if has_commit(mirror, commit):
        return mirror  # the warm path: no lock, no network
    protocols = _allowed_protocols(settings)
    with _locked(mirror.with_suffix(".lock")):
        if not mirror.is_dir():
            partial = mirror.with_suffix(".partial")
            shutil.rmtree(partial, ignore_errors=True)
            done = git(
                ["clone", "--mirror", "--quiet", "--", repo_url, str(partial)],
                timeout=GIT_NETWORK_TIMEOUT_S,
                allow_protocols=protocols,
            )
            if done.returncode != 0:
                shutil.rmtree(partial, ignore_errors=True)
                raise QaInfraError("could not clone the repository", _tail(done.stderr))
            partial.rename(mirror)
        if not has_commit(mirror, commit):
            done = git(
                ["fetch", "--quiet", "--prune", "origin"],
                cwd=mirror,
                timeout=GIT_NETWORK_TIMEOUT_S,
                allow_protocols=protocols,
            )
            if done.returncode != 0:
                raise QaInfraError("could not fetch the repository", _tail(done.stderr))
        if not has_commit(mirror, commit):
            # Hosts that allow fetching any reachable sha give us commits outside the advertised refs.
            git(
                ["fetch", "--quiet", "origin", commit],
                cwd=mirror,
                timeout=GIT_NETWORK_TIMEOUT_S,
                allow_protocols=protocols,
            )
        if not has_commit(mirror, commit):
            raise QaInputError("base_commit does not exist in the repository", f"{commit} not in {repo_url}")
    return mirror


def commit_date(mirror: Path, commit: str) -> datetime | None:
    """The commit's committer date (None when git cannot tell)."""
    result = git(["--git-dir", str(mirror), "show", "-s", "--format=%cI", "--end-of-options", commit])
    try:
        return datetime.fromisoformat(result.stdout.strip()) if result.returncode == 0 else None
    except ValueError:
        return None


def checkout(mirror: Path, commit: str, dest: Path, depth: int = 0) -> None:
    """A work tree of `commit` at dest whose repository holds only the history up to `commit`.

    The history cut (docs/qa.md): a fresh repository fetches `commit` (and the tags on its ancestors) from
    the mirror, so no later commit, branch, tag, reflog or packed object exists in it; the mirror is never
    shared (no alternates) and never mounted into a container. depth > 0 keeps only that many commits
    (and no tags): for huge repositories, whose whole history costs seconds to pack.
    """
    _fetch_cut(mirror, commit, dest, depth, bare=False)
    _detach(dest, commit)


def history_cut(mirror: Path, commit: str, dest: Path, depth: int = 0) -> None:
    """A bare repository at dest with `commit`'s history only (as `checkout`), HEAD detached at it: the
    pristine source that copy_checkout makes a job's work trees from."""
    _fetch_cut(mirror, commit, dest, depth, bare=True)
    done = git(["--git-dir", str(dest), "update-ref", "--no-deref", "HEAD", commit], isolated=True)
    if done.returncode != 0:
        raise QaInfraError("could not point the scratch repository at base_commit", _tail(done.stderr))


def _fetch_cut(mirror: Path, commit: str, dest: Path, depth: int, bare: bool) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    done = git(["init", "--quiet", *(["--bare"] if bare else []), str(dest)], isolated=True)
    if done.returncode != 0:
        raise QaInfraError("could not create the scratch repository", _tail(done.stderr))
    refspecs = [commit] if depth else [*_ancestor_tags(mirror, commit), commit]
    fetch = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--stdin"]
    if depth:
        fetch.append(f"--depth={depth}")
    done = git(
        [*(["--git-dir", str(dest)] if bare else []), *fetch, "--", str(mirror)],
        cwd=dest,
        isolated=True,
        input_text="\n".join(refspecs) + "\n",
        allow_protocols="file",
        timeout=GIT_NETWORK_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise QaInfraError("could not fetch base_commit into the scratch repository", _tail(done.stderr))


def copy_checkout(source: Path, commit: str, dest: Path) -> None:
    """A work tree of `commit` from a history cut (history_cut, checkout): objects hard-linked, not packed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = git(
        ["clone", "--local", "--no-checkout", "--quiet", "--", str(source), str(dest)],
        isolated=True,
        allow_protocols="file",
    )
    if done.returncode != 0:
        raise QaInfraError("could not copy the scratch repository", _tail(done.stderr))
    # The origin (a host path) and its remote-tracking refs mean nothing inside the container.
    git(["remote", "remove", "origin"], cwd=dest, isolated=True)
    _detach(dest, commit)


def _ancestor_tags(mirror: Path, commit: str) -> list[str]:
    """Refspecs of the newest MAX_TAGS tags on commit's history (tools such as setuptools_scm read them)."""
    listed = git(
        [
            "--git-dir",
            str(mirror),
            "for-each-ref",
            f"--merged={commit}",
            "--sort=-creatordate",
            f"--count={MAX_TAGS}",
            "--format=+%(refname):%(refname)",
            "refs/tags",
        ]
    )
    return [line for line in listed.stdout.splitlines() if line.startswith("+refs/tags/")]


def _detach(dest: Path, commit: str) -> None:
    # Isolated: the user's config (filters such as git-lfs, hooks) has no say over what the tests see.
    checkout_args = ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit]
    done = git(checkout_args, cwd=dest, isolated=True)
    if done.returncode != 0:
        raise QaInfraError("could not check out base_commit", _tail(done.stderr))


def _allowed_protocols(settings: Settings) -> str:
    schemes = {urlsplit(prefix).scheme for prefix in settings.repo_allowlist}
    schemes.discard("")
    return ":".join(sorted(schemes)) or "https"


def _tail(text: str, limit: int = 2000) -> str:
    return text.strip()[-limit:]
