"""Repository access for QA: allowlist, a bare mirror per repo_url (the clone cache), scratch checkouts.

A checkout is `git clone --shared` from the mirror (objects are borrowed, not copied), so a warm setup costs a
few tens of milliseconds. The mirror is mounted read-only into the test container at the same path so `git`
inside the work tree still finds its objects.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bugtrail.config import Settings
from bugtrail.qa.allowlist import allowlist_problem, repo_allowed
from bugtrail.qa.errors import QaInfraError, QaInputError, QaSkipped
from bugtrail.qa.gitcmd import git

GIT_NETWORK_TIMEOUT_S = 900.0

__all__ = ["check_repo_allowed", "checkout", "ensure_mirror", "git", "mirror_path", "repo_allowed"]


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


def checkout(mirror: Path, commit: str, dest: Path) -> None:
    """A work tree of `commit` at dest, sharing the mirror's objects."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = git(["clone", "--shared", "--no-checkout", "--quiet", "--", str(mirror), str(dest)])
    if done.returncode != 0:
        raise QaInfraError("could not create the scratch clone", _tail(done.stderr))
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
