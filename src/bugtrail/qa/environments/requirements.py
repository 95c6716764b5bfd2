"""Requirement lines: parse requirements files (`-r` includes inside the tree only) and judge single lines.

Nothing here fetches or executes anything: local paths are never followed outside the tree nor installed,
index options are dropped (a repository or a recorded environment must not redirect pip), VCS URLs are kept
only when pinned to a full commit over https.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

MAX_REQUIREMENT_FILE_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 10
_SAFE_VCS = re.compile(r"^git\+https://[^\s@]+@[0-9a-f]{40}(#.*)?$")
_SELF_EXTRAS = re.compile(r"^(?:-e\s+|--editable[=\s]+)?\.\s*(?:\[([^\]]*)\])?$")


@dataclass
class ParsedRequirements:
    packages: list[str] = field(default_factory=list)
    project_extras: set[str] = field(default_factory=set)  # `.[test]` / `-e .[test]`: the checkout's extras
    installs_project: bool = False
    files: list[str] = field(default_factory=list)  # tree-relative paths read (they shape the image)
    notes: list[str] = field(default_factory=list)


def requirement_name(line: str) -> str | None:
    """The canonical distribution name of a requirement line, or None when it is not a requirement."""
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return None


def judge_line(line: str) -> tuple[str | None, str | None]:
    """(requirement to keep, or None; why it was dropped, or None) for one logical requirement line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None, None
    if text.startswith("-"):
        return None, f"option line {text[:80]!r} ignored (index and local options are not followed)"
    if text.startswith((".", "/", "~", "file:")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return None, f"local path {text[:80]!r} not installed"
    if re.match(r"^(git|hg|svn|bzr)\+", text):
        return None, f"VCS line without a name {text[:80]!r} not installed"
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None, f"unparseable requirement {text[:80]!r} skipped"
    url = requirement.url
    if url:
        if url.startswith("file:") or "://" not in url:
            return None, f"{requirement.name}: local path {url[:80]!r} not installed"
        if re.match(r"^(git|hg|svn|bzr)\+", url) and not _SAFE_VCS.match(url):
            return None, f"{requirement.name}: VCS URL not pinned to a commit over https, not installed"
        if not url.startswith(("https://", "git+https://")):
            return None, f"{requirement.name}: URL {url[:80]!r} is not https, not installed"
    return text, None


_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain", ".intranet")


def url_host_refusal(url: str) -> str | None:
    """Why a developer-supplied requirement URL is not fetched, or None when its host is a public name.

    An environment build has the worker host's network, so a URL a developer chose must not point it at an
    address (any IP literal) or at a name that is local by convention; package-index pins are unaffected.
    """
    try:
        host = (urlsplit(url.split("+", 1)[1] if re.match(r"^[a-z]+\+", url) else url).hostname or "").lower()
    except ValueError:
        return "its URL does not parse"
    if not host:
        return "its URL has no host"
    try:
        ipaddress.ip_address(host)
        return f"its URL names an address ({host}), not a host name"
    except ValueError:
        pass
    if "." not in host.strip(".") or host.endswith(_PRIVATE_SUFFIXES):  # `localhost` has no dot
        return f"its URL's host {host!r} is not a public name"
    return None


def judge_developer_line(line: str) -> tuple[str | None, str | None]:
    """judge_line for a line a developer chose (a recorded pin, a session's `pip install`): a URL must also
    name a public host, since the environment build that fetches it has the worker host's network."""
    kept, why = judge_line(line)
    if kept is None:
        return None, why
    url = Requirement(kept).url
    refusal = url_host_refusal(url) if url else None
    if refusal:
        return None, f"{requirement_name(kept)}: not installed, {refusal}"
    return kept, None


def logical_lines(text: str) -> list[str]:
    """Join backslash continuations and strip ` #` comments (pip's rules, simplified)."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = []
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s+)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def parse_requirements_file(tree: Path, relative: str, result: ParsedRequirements, depth: int = 0) -> None:
    """Add one requirements file (and its `-r` includes inside `tree`) to `result`."""
    path = (tree / relative).resolve()
    root = tree.resolve()
    if not path.is_relative_to(root):
        result.notes.append(f"{relative}: outside the repository, not read")
        return
    rel = path.relative_to(root).as_posix()
    if rel in result.files:
        return
    if depth > MAX_INCLUDE_DEPTH or not path.is_file():
        result.notes.append(f"{rel}: not found or nested too deep, skipped")
        return
    if path.stat().st_size > MAX_REQUIREMENT_FILE_BYTES:
        result.notes.append(f"{rel}: larger than 1 MiB, skipped")
        return
    result.files.append(rel)
    for line in logical_lines(path.read_text(errors="replace")):
        include = re.match(r"^(?:-r|--requirement)(?:\s+|=)?(\S+)$", line)
        if include:
            target = (path.parent / include.group(1)).resolve()
            if not target.is_relative_to(root):
                result.notes.append(f"{rel}: include {include.group(1)!r} points outside the repository")
                continue
            parse_requirements_file(tree, target.relative_to(root).as_posix(), result, depth + 1)
            continue
        if re.match(r"^(?:-c|--constraint)\b", line):
            result.notes.append(f"{rel}: constraints line {line[:80]!r} ignored")
            continue
        self_ref = _SELF_EXTRAS.match(line)
        if self_ref:
            result.installs_project = True
            result.project_extras.update(e.strip() for e in (self_ref.group(1) or "").split(",") if e.strip())
            continue
        kept, why = judge_line(line)
        if kept:
            result.packages.append(kept)
        elif why:
            result.notes.append(f"{rel}: {why}")
