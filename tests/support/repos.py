"""Scratch git repositories for tests and benchmarks: one `git()` helper and a repo from a dict of files."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Set per command so a test never depends on (or writes to) the machine's git configuration.
IDENTITY = ("-c", "user.name=Dev", "-c", "user.email=dev@example.org")


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in `repo`; its stdout, stripped. A failure raises with git's own message."""
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, input=input, capture_output=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}"
    return done.stdout.decode().strip()


def write_files(root: Path, files: dict[str, str] | dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


def make_repo(path: Path, files: dict[str, str | bytes], message: str = "initial") -> Path:
    """A repository on branch main with `files` committed; git config user.* set for later commits."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.org")
    git(path, "config", "user.name", "Dev")
    write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD")
