"""Repository URLs compared by host and path segments, so `https://h/org/a` never matches `https://h/org/ab`.

The scheme and user name do not count (`https://github.com/org/x`, `ssh://git@github.com/org/x` and
`git@github.com:org/x.git` are the same repository); `file://` URLs compare by path. A trailing `.git` is
ignored. Hosts compare case-insensitively, paths exactly.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import NamedTuple

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?([\w.-]+):(?!//)(.*)$")  # git@host:org/repo.git


class RepoKey(NamedTuple):
    host: str  # "" for file:// URLs
    segments: tuple[str, ...]


def parse_prefix(url: str) -> RepoKey:
    """A registered url_prefix: a URL with a scheme and a host, or a file:// URL with a path."""
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError("must not contain whitespace or control characters")
    parsed = urllib.parse.urlsplit(url)
    if not parsed.scheme or "://" not in url:
        raise ValueError(f"must be a URL with a scheme and a host (https://host/org), not {url!r}")
    if parsed.query or parsed.fragment:
        raise ValueError("must not have a query or fragment")
    key = repo_key(url)
    if key is None:
        raise ValueError(f"must be a URL with a scheme and a host (or file:///path), not {url!r}")
    return key


def repo_key(url: str) -> RepoKey | None:
    """The comparable form of a repository URL, or None when it is not one."""
    url = url.strip()
    scp = _SCP_LIKE.match(url) if "://" not in url else None
    if scp:
        return RepoKey(scp.group(1).lower(), _segments(scp.group(2)))
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname
        port = parsed.port
    except ValueError:
        return None
    if parsed.scheme == "file":
        segments = _segments(urllib.parse.unquote(parsed.path))
        return RepoKey("", segments) if segments or parsed.path == "/" else None
    if not parsed.scheme or not hostname:
        return None
    host = f"{hostname.lower()}:{port}" if port else hostname.lower()
    return RepoKey(host, _segments(urllib.parse.unquote(parsed.path)))


def _segments(path: str) -> tuple[str, ...]:
    parts = [part for part in path.split("/") if part]
    if parts and parts[-1].endswith(".git"):
        parts[-1] = parts[-1][: -len(".git")]
    return tuple(part for part in parts if part)


def prefix_matches(prefix: RepoKey, repo: RepoKey) -> bool:
    return prefix.host == repo.host and repo.segments[: len(prefix.segments)] == prefix.segments
