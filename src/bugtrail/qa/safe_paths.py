"""Paths named by an edit are untrusted: validate them, and touch the tree without ever following a symlink.

Every file operation walks from the tree root one component at a time with O_NOFOLLOW directory fds, so a
symlink planted by an edit (a file or a parent directory pointing outside) can never redirect a read, write
or unlink outside the scratch tree. Files are recreated with O_CREAT|O_EXCL|O_NOFOLLOW after an unlink.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR)
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # one file's rollback copy


class UnsafePath(Exception):
    """An edit names a path we will not touch; the message says why (it ends up in the patch report)."""


def is_git_component(part: str) -> bool:
    # `.git`, `.GIT`, `.git.` and `.git ` all mean the repository directory on some filesystem.
    return part.lower().rstrip(". ") == ".git"


def check_relative(path: str) -> str:
    """`path` itself when it is a plain relative path inside the tree with no `.git` component."""
    if not path:
        raise UnsafePath("empty path")
    if any(ch in path for ch in "\x00\n\r"):
        raise UnsafePath(f"unsafe path {path!r}: control character")
    normalised = posixpath.normpath(path)
    if any(is_git_component(part) for part in path.split("/") + normalised.split("/")):
        raise UnsafePath(f"refused path {path!r}: edits may not touch the .git directory")
    if path.startswith("/"):
        raise UnsafePath(f"unsafe path {path!r}: absolute")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise UnsafePath(f"unsafe path {path!r}: not a plain relative path inside the tree")
    return path


def check_all(paths: Iterable[str]) -> list[str]:
    return sorted({check_relative(path) for path in paths})


def _open_child_dir(parent_fd: int, name: str, make: bool, replace_links: bool, shown: str) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not make:
            return None
    except OSError as exc:
        if exc.errno not in _LINK_ERRNOS:
            raise
        if not replace_links:
            reason = "goes through a symlink or a file (it could lead outside the work tree)"
            raise UnsafePath(f"path {shown!r} {reason}") from exc
        os.unlink(name, dir_fd=parent_fd)  # the link itself (inside the tree), never its target
        if not make:
            return None
    os.mkdir(name, 0o755, dir_fd=parent_fd)
    return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)


def open_parent(tree: Path, relative: str, *, make: bool = False, replace_links: bool = False) -> int | None:
    """An fd of the directory that holds `relative`, reached without following any symlink.

    None when a parent is missing (and `make` is false). A symlink or file where a directory should be is
    refused, or replaced by a real directory when `replace_links` (rollback restores what was there).
    """
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in check_relative(relative).split("/")[:-1]:
        try:
            child = _open_child_dir(fd, part, make, replace_links, relative)
        finally:
            os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


@dataclass(frozen=True)
class Entry:
    """What was at a path before an attempt: a regular file (content, mode), a symlink, a directory."""

    kind: str  # file | link | dir
    content: bytes = b""
    mode: int = 0o644
    link: str = ""


def snapshot(tree: Path, relative: str) -> Entry | None:
    fd = open_parent(tree, relative)
    if fd is None:
        return None
    name = relative.rsplit("/", 1)[-1]
    try:
        try:
            info = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            return Entry("link", link=os.readlink(name, dir_fd=fd))
        if stat.S_ISDIR(info.st_mode):
            return Entry("dir")
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(f"path {relative!r} is not a regular file")
        if info.st_size > MAX_SNAPSHOT_BYTES:
            raise UnsafePath(f"path {relative!r} is too large to edit safely ({info.st_size} bytes)")
        handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        with os.fdopen(handle, "rb") as stream:
            return Entry("file", content=stream.read(), mode=stat.S_IMODE(info.st_mode))
    finally:
        os.close(fd)


def _remove(fd: int, name: str) -> None:
    try:
        info = os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=fd)  # symlink-safe: rmtree never follows links
    else:
        os.unlink(name, dir_fd=fd)


def restore(tree: Path, relative: str, entry: Entry | None) -> None:
    """Put back what `snapshot` saw: unlink whatever is there now, then create it afresh (no following)."""
    fd = open_parent(tree, relative, make=entry is not None, replace_links=True)
    if fd is None:
        return
    name = relative.rsplit("/", 1)[-1]
    try:
        for leftover in (f"{name}.rej", f"{name}.orig"):
            _remove(fd, leftover)
        if entry is not None and entry.kind == "dir":
            if not stat.S_ISDIR(_lstat_mode(fd, name)):
                _remove(fd, name)
                os.mkdir(name, 0o755, dir_fd=fd)
            return
        _remove(fd, name)
        if entry is None:
            return
        if entry.kind == "link":
            os.symlink(entry.link, name, dir_fd=fd)
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(name, flags, entry.mode, dir_fd=fd)
        with os.fdopen(handle, "wb") as stream:
            stream.write(entry.content)
    finally:
        os.close(fd)


def _lstat_mode(fd: int, name: str) -> int:
    try:
        return os.lstat(name, dir_fd=fd).st_mode
    except FileNotFoundError:
        return 0


def unlink_file(tree: Path, relative: str) -> bool:
    """Delete a file or symlink (never its target); False when nothing is there."""
    fd = open_parent(tree, relative)
    if fd is None:
        return False
    name = relative.rsplit("/", 1)[-1]
    try:
        mode = _lstat_mode(fd, name)
        if not mode:
            return False
        if stat.S_ISDIR(mode):
            raise UnsafePath(f"path {relative!r} is a directory")
        os.unlink(name, dir_fd=fd)
        return True
    finally:
        os.close(fd)


def rename_file(tree: Path, source: str, target: str) -> bool:
    """Move a file or symlink inside the tree, following no link; False when the source is missing."""
    source_fd = open_parent(tree, source)
    if source_fd is None:
        return False
    try:
        source_name = source.rsplit("/", 1)[-1]
        if not _lstat_mode(source_fd, source_name):
            return False
        target_fd = open_parent(tree, target, make=True)
        assert target_fd is not None  # make=True creates missing parents
        try:
            os.rename(source_name, target.rsplit("/", 1)[-1], src_dir_fd=source_fd, dst_dir_fd=target_fd)
        finally:
            os.close(target_fd)
        return True
    finally:
        os.close(source_fd)


def check_stays_inside(tree: Path, relative: str) -> None:
    """After an apply: no parent of `relative` is a symlink, and a symlink at `relative` resolves inside."""
    fd = open_parent(tree, relative)
    if fd is None:
        return
    try:
        mode = _lstat_mode(fd, relative.rsplit("/", 1)[-1])
    finally:
        os.close(fd)
    if stat.S_ISLNK(mode):
        root = os.path.realpath(tree)
        resolved = os.path.realpath(os.path.join(root, relative))
        if resolved != root and not resolved.startswith(root + os.sep):
            raise UnsafePath(f"refused symlink {relative!r}: it points outside the work tree")
        if any(is_git_component(part) for part in os.path.relpath(resolved, root).split(os.sep)):
            raise UnsafePath(f"refused symlink {relative!r}: it points into the .git directory")
