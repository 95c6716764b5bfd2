"""Work-tree snapshots with git plumbing: one edit event per changed file since the last recorded state.

The "last recorded state" is a git tree object. A shadow index (.git/bugtrail/index, never the developer's
.git/index) plus `git add -A` + `git write-tree` turns the work tree into a tree object cheaply (the index's
stat cache means only touched files are re-hashed); `git diff-tree -M` between the recorded tree and the new
one gives exactly the per-file diffs that, applied in order with `git apply`, rebuild the work tree. Blobs
live in the repository's own object database, so nothing is stored twice. The caller stores the new tree id
in the same transaction as the edit events, so a crash can never record an edit twice or skip one.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
RECORDED_REF = "refs/worktree/bugtrail/recorded"
# Diffs above this go out without their hunks (flagged), well under the server's per-diff limit.
DEFAULT_MAX_DIFF_BYTES = 4 * 1024 * 1024
# Bytecode, pytest's cache and editors' swap/backup/lock files appear in nearly every debugging session
# (whatever the repository's .gitignore says) and are never part of a fix.
JUNK_PATHSPECS = tuple(
    f":(exclude,glob){pattern}"
    for pattern in (
        "**/__pycache__/**",
        "**/*.py[co]",
        "**/.pytest_cache/**",
        "**/*.sw[po]",
        "**/*~",
        "**/.#*",
        "**/.DS_Store",
    )
)
# Plumbing plus explicit flags: immune to the developer's diff/colour/prefix configuration.
DIFF_ARGS = ("diff-tree", "-r", "-p", "-M", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv")


class GitError(Exception):
    pass


def git(
    repo: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None, check: bool = True
) -> bytes:
    proc = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args],
        cwd=repo,
        env=env,
        input=input,
        capture_output=True,
    )
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


@dataclass(frozen=True)
class GitRepo:
    root: Path
    git_dir: Path

    @classmethod
    def discover(cls, cwd: Path | None = None) -> GitRepo:
        cwd = cwd or Path.cwd()
        try:
            out = git(cwd, "rev-parse", "--show-toplevel", "--absolute-git-dir").decode().splitlines()
        except (GitError, FileNotFoundError) as exc:
            raise GitError(
                f"{cwd} is not inside a git work tree (run `git init` or cd into your repo)"
            ) from exc
        if len(out) != 2:
            raise GitError("bugtrail needs a git work tree, not a bare repository")
        return cls(Path(out[0]), Path(out[1]))

    @property
    def state_dir(self) -> Path:
        return self.git_dir / "bugtrail"

    def head_commit(self) -> str | None:
        out = git(self.root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
        return out.decode() or None

    def commit_tree(self, commit: str | None) -> str:
        if commit is None:
            return EMPTY_TREE
        return git(self.root, "rev-parse", f"{commit}^{{tree}}").decode().strip()

    def remote_url(self) -> str:
        out = git(self.root, "remote", "get-url", "origin", check=False).decode().strip()
        if not out:
            remotes = git(self.root, "remote", check=False).decode().split()
            if remotes:
                out = git(self.root, "remote", "get-url", remotes[0], check=False).decode().strip()
        return out or self.root.resolve().as_uri()

    def protect(self, tree: str | None) -> None:
        """Keep the last recorded tree (and its blobs) reachable so `git gc --prune=now` cannot break the
        next diff. A per-worktree ref (git >= 2.25): never pushed by default, invisible to `git log --all`
        (it is a tree, not a commit). None removes it."""
        if tree is None:
            git(self.root, "update-ref", "-d", RECORDED_REF, check=False)
        else:
            git(self.root, "update-ref", RECORDED_REF, tree, check=False)

    def work_tree_tree(self) -> str:
        """The work tree (respecting .gitignore) as a tree object, via the shadow index."""
        index = self.state_dir / "index"
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        if not index.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            real_index = self.git_dir / "index"
            if real_index.exists():
                # Start from the developer's index: its stat cache spares re-hashing every file once.
                index.write_bytes(real_index.read_bytes())
        git(self.root, "add", "-A", "--", ".", *JUNK_PATHSPECS, env=env)
        return git(self.root, "write-tree", env=env).decode().strip()


@dataclass
class FileChange:
    status: str  # A, D, M, R, T (git's letters)
    path: str
    old_path: str | None
    diff: str
    details: dict[str, Any] = field(default_factory=dict)


def changes_between(
    repo: GitRepo, old_tree: str, new_tree: str, max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES
) -> list[FileChange]:
    """Per-file changes from old_tree to new_tree, in git's order, each with its own applicable diff."""
    if old_tree == new_tree:
        return []
    raw = git(repo.root, "diff-tree", "-r", "-M", "-z", "--no-color", old_tree, new_tree)
    entries = _parse_raw(raw)
    if not entries:
        return []
    sections = _split_sections(git(repo.root, *DIFF_ARGS, old_tree, new_tree))
    if len(sections) != len(entries):
        # Type changes (file <-> symlink) print two sections for one entry: diff those entries one by one.
        sections = [
            git(repo.root, *DIFF_ARGS, old_tree, new_tree, "--", *filter(None, (old_path, path)))
            for _, path, old_path in entries
        ]
    return [
        _describe(status, path, old_path, section, max_diff_bytes)
        for (status, path, old_path), section in zip(entries, sections, strict=True)
    ]


def _parse_raw(raw: bytes) -> list[tuple[str, str, str | None]]:
    """`git diff-tree -r -z` raw output -> (status letter, path, old path for renames/copies)."""
    fields = raw.split(b"\0")
    entries: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(fields) and fields[i]:
        meta = fields[i].decode()
        status = meta.split()[-1][0]
        if status in "RC":
            old, new = (
                fields[i + 1].decode("utf-8", "surrogateescape"),
                fields[i + 2].decode("utf-8", "surrogateescape"),
            )
            entries.append((status, new, old))
            i += 3
        else:
            entries.append((status, fields[i + 1].decode("utf-8", "surrogateescape"), None))
            i += 2
    return entries


def _split_sections(patch: bytes) -> list[bytes]:
    sections: list[bytes] = []
    for line in patch.splitlines(keepends=True):
        # A line of file content starts with ' ', '+', '-' or '\', so this header cannot be content.
        if line.startswith(b"diff --git ") or not sections:
            sections.append(line)
        else:
            sections[-1] += line
    return sections


def _describe(
    status: str, path: str, old_path: str | None, section: bytes, max_diff_bytes: int
) -> FileChange:
    details: dict[str, Any] = {}
    header = section.split(b"\n@@", 1)[0]
    binary = b"\nBinary files " in header or b"\nGIT binary patch" in header
    change = {"A": "new file", "D": "deleted", "M": "modified", "T": "type changed", "R": "renamed"}.get(
        status, "changed"
    )
    if status == "A":
        details["new_file"] = True
    elif status == "D":
        details["deleted"] = True
    elif status in "RC" and old_path:
        details["renamed_from"] = old_path
        change = f"renamed from {old_path}" + ("" if b"similarity index 100%" in header else ", modified")
    try:
        text = section.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if binary or text is None:
        # Recorded as such, without content: the header (with full blob ids) still names both versions.
        details["binary"] = True
        if text is None and not binary:
            details["non_utf8"] = True
        text = _header_only(header)
    elif len(section) > max_diff_bytes:
        details["diff_omitted"] = True
        details["diff_bytes"] = len(section)
        text = _header_only(header)
    details["change"] = change
    return FileChange(status, path, old_path, text, details)


def _header_only(header: bytes) -> str:
    lines = [
        line for line in header.decode("utf-8", "replace").splitlines() if not line.startswith(("---", "+++"))
    ]
    return "\n".join(lines) + "\n"
