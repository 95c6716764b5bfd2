"""Is a trace's repo_url one QA may clone? Decided on the parsed URL, never on its spelling.

Scheme, host (case-insensitive) and port (default ports filled in) must be equal; the path must start with
the allowlisted prefix's path segment by segment. Anything that could make two spellings mean different
places is refused outright: userinfo, `.`/`..`/empty segments, percent-escapes, a query or fragment,
backslashes, scp-style `host:path`. file:// paths (URL and prefix) are resolved with realpath first, so a
symlink cannot lead out of an allowlisted directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"https": 443, "http": 80, "ssh": 22, "git": 9418, "file": None}


class RefusedUrl(ValueError):
    pass


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str
    port: int | None
    segments: tuple[str, ...]  # path segments, no empty ones


def parse_repo_url(raw: str) -> ParsedUrl:
    """The URL's parts, or RefusedUrl naming what is wrong with it."""
    url = raw  # not stripped: git would be handed the URL as sent
    if not url:
        raise RefusedUrl("empty URL")
    if url.startswith("-"):
        raise RefusedUrl("starts with '-'")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise RefusedUrl("contains whitespace or control characters")
    if "\\" in url:
        raise RefusedUrl("contains a backslash")
    if "%" in url:
        raise RefusedUrl("contains a percent-escape (%2e, %2f, ... could hide '.', '..' or '/')")
    if "://" not in url:
        raise RefusedUrl("not a scheme://host/path URL (scp-style host:path is not accepted)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RefusedUrl(f"scheme {parts.scheme!r} is not one of {', '.join(sorted(SCHEMES))}")
    if "@" in parts.netloc:
        raise RefusedUrl("contains userinfo (user@ or user:password@)")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise RefusedUrl("has a query or fragment")
    try:
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"invalid port: {exc}") from exc
    host = (parts.hostname or "").lower()
    if scheme == "file":
        if host not in ("", "localhost") or port is not None:
            raise RefusedUrl("file:// URLs must not name a host")
        path = _plain_segments(parts.path)
        return ParsedUrl(scheme, "", None, _plain_segments(os.path.realpath("/" + "/".join(path))))
    if not host:
        raise RefusedUrl("has no host")
    return ParsedUrl(scheme, host, port or SCHEMES[scheme], _plain_segments(parts.path))


def _plain_segments(path: str) -> tuple[str, ...]:
    segments = path.split("/")
    inner = segments[1:-1] if len(segments) > 2 else []
    if path and not path.startswith("/"):
        raise RefusedUrl("path is not absolute")
    if any(segment in (".", "..") for segment in segments):
        raise RefusedUrl("path has '.' or '..' segments")
    if any(segment == "" for segment in inner):
        raise RefusedUrl("path has an empty segment ('//')")
    return tuple(segment for segment in segments if segment)


def _matches(url: ParsedUrl, prefix: ParsedUrl) -> bool:
    same_place = (url.scheme, url.host, url.port) == (prefix.scheme, prefix.host, prefix.port)
    return same_place and url.segments[: len(prefix.segments)] == prefix.segments


def allowlist_problem(repo_url: str, allowlist: Sequence[str]) -> str | None:
    """None when repo_url is allowed, else why not (for the skip reason)."""
    try:
        url = parse_repo_url(repo_url)
    except RefusedUrl as exc:
        return f"repo_url refused: {exc}"
    for entry in allowlist:
        try:
            prefix = parse_repo_url(entry)
        except RefusedUrl:
            continue  # a malformed allowlist entry admits nothing
        if _matches(url, prefix):
            return None
    return "repo_url matches no allowlist entry"


def repo_allowed(repo_url: str, allowlist: Sequence[str]) -> bool:
    return allowlist_problem(repo_url, allowlist) is None
