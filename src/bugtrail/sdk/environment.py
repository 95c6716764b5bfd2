"""Capture the developer's Python environment for a trace (`bugtrail start`, `capture_environment()`).

What matters is the interpreter the developer's own commands run, not the recorder's: `$VIRTUAL_ENV`,
else a `.venv`/`venv` in the work tree, else `python`/`python3` on PATH. One short subprocess of that
interpreter lists its distributions with importlib.metadata (pip itself takes ~10x longer to start) and
the lines are written the way `pip freeze` prints them. Capture never fails the caller: on a timeout or an
error it returns what it has, with a note saying what went wrong. Standard library only (fast import).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 5.0
# The server's limits (bugtrail.wire.RecordedEnvironment): keep under them so a start is never refused.
MAX_PACKAGES = 5_000
MAX_ENTRY_CHARS = 1_000
MAX_TOTAL_CHARS = 500 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Runs in the developer's interpreter (any Python 3.8+): facts about it, and each distribution as
# [name, version, direct_url.json text or null], first one on sys.path winning as it does for pip.
# Name and Version come from the metadata's header lines: email-parsing every METADATA file (what
# dist.metadata does) took three quarters of the time.
_PROBE = r"""
import json, platform, re, sys
out = {"python_version": platform.python_version(), "implementation": platform.python_implementation(),
       "platform": platform.platform(), "executable": sys.executable, "dists": []}
try:
    from importlib import metadata
except ImportError:
    metadata = None

def header(dist):
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = {}
    for line in text.partition("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    if "Name" not in found or "Version" not in found:
        found = {"Name": dist.metadata["Name"], "Version": dist.version}
    return found["Name"], found["Version"]

if metadata is not None:
    seen = set()
    for dist in metadata.distributions():
        try:
            name, version = header(dist)
            if not name:
                continue
            key = re.sub(r"[-_.]+", "-", name).lower()
            if key in seen:
                continue
            seen.add(key)
            out["dists"].append([name, version, dist.read_text("direct_url.json")])
        except Exception as exc:
            out.setdefault("errors", []).append(repr(exc)[:200])
sys.stdout.write(json.dumps(out))
"""


def find_interpreter(work_tree: Path | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The python the developer's commands use in `work_tree` (None when there is none at all)."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if env.get("VIRTUAL_ENV"):
        candidates.append(_venv_python(Path(env["VIRTUAL_ENV"])))
    if work_tree is not None:
        candidates.extend(_venv_python(work_tree / name) for name in (".venv", "venv"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    for name in ("python", "python3"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    return None


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def capture_environment(
    python: str | None = None,
    work_tree: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    captured_by: str | None = None,
) -> dict[str, Any]:
    """The `environment` of a trace (a dict shaped like bugtrail.wire.RecordedEnvironment).

    python: the interpreter to describe (default: find_interpreter(work_tree)). work_tree: the checkout of the
    project under test; its own distribution goes to `project`, not `packages`.
    """
    root = Path(work_tree).resolve() if work_tree is not None else None
    environment: dict[str, Any] = {
        "packages": [],
        "project": [],
        "captured_by": captured_by or _recorder_name(),
    }
    notes: list[str] = []
    interpreter = python or find_interpreter(root)
    if interpreter is None:
        notes.append("no python interpreter found (VIRTUAL_ENV, .venv, venv or PATH)")
        environment["notes"] = notes
        return environment
    probe = _run_probe(interpreter, root, timeout, notes)
    if probe is not None:
        for key in ("python_version", "implementation", "platform"):
            if isinstance(probe.get(key), str):
                environment[key] = _clean(probe[key], 200)
        notes.extend(f"could not read a distribution: {error}" for error in probe.get("errors", [])[:5])
        packages, project = _freeze_lines(probe.get("dists", []), probe.get("python_version", ""), root)
        environment["packages"] = _bounded(packages, notes)
        environment["project"] = project[:50]
    if notes:
        environment["notes"] = [_clean(note, 500) for note in notes[:20]]
    return environment


def _run_probe(
    interpreter: str, root: Path | None, timeout: float, notes: list[str]
) -> dict[str, Any] | None:
    try:
        proc = subprocess.run(
            [interpreter, "-c", _PROBE],
            cwd=str(root) if root is not None else None,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        notes.append(f"{interpreter} did not list its packages within {timeout:g} s; packages not recorded")
        return None
    except OSError as exc:
        notes.append(f"could not run {interpreter}: {exc}")
        return None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        notes.append(f"{interpreter} exited with {proc.returncode} while listing packages: {tail[0][:300]}")
        return None
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        notes.append(f"{interpreter} printed something other than the package list")
        return None
    return data if isinstance(data, dict) else None


def _freeze_lines(dists: list[Any], python_version: str, root: Path | None) -> tuple[list[str], list[str]]:
    """(`pip freeze` lines sorted as pip sorts them, names of the project's own distributions)."""
    project_names = _declared_names(root) if root is not None else set()
    # pip freeze hides its own tooling; setuptools/wheel/distribute only before Python 3.12 (as pip does).
    # The recorder itself is the developer's tool, not a dependency of the code under test.
    hidden = {"pip", "bugtrail"}
    if not _version_at_least(python_version, (3, 12)):
        hidden |= {"setuptools", "wheel", "distribute"}
    lines: list[tuple[str, str]] = []
    project: list[str] = []
    for entry in dists:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        name, version, direct_url_text = entry
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        key = _canonical(name)
        if key in hidden:
            continue
        direct_url = _parse_json(direct_url_text)
        if key in project_names or _points_into(direct_url, root):
            project.append(name)
            continue
        lines.append((name.lower(), _freeze_line(name, version, direct_url)))
    lines.sort()
    return [line for _, line in lines], sorted(project, key=str.lower)


def _freeze_line(name: str, version: str, direct_url: dict[str, Any] | None) -> str:
    """What pip freeze prints for one distribution (PEP 610 direct_url.json kept verbatim)."""
    if not direct_url or not isinstance(direct_url.get("url"), str):
        return f"{name}=={version}"
    url: str = direct_url["url"]
    dir_info = direct_url.get("dir_info") or {}
    vcs_info = direct_url.get("vcs_info")
    subdirectory = direct_url.get("subdirectory")
    if isinstance(dir_info, dict) and dir_info.get("editable"):
        return f"-e {_local_path(url)}"
    fragments: list[str] = []
    if isinstance(vcs_info, dict):
        reference = f"{vcs_info.get('vcs')}+{url}@{vcs_info.get('commit_id')}"
    else:
        reference = url
        archive_hash = (direct_url.get("archive_info") or {}).get("hash")
        if archive_hash:
            fragments.append(str(archive_hash))
    if subdirectory:
        fragments.append(f"subdirectory={subdirectory}")
    return f"{name} @ {reference}" + (f"#{'&'.join(fragments)}" if fragments else "")


def _local_path(url: str) -> str:
    if url.startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    return url


def _points_into(direct_url: dict[str, Any] | None, root: Path | None) -> bool:
    """A local install (editable or not) of a directory inside the work tree: the project under test."""
    if root is None or not direct_url or not str(direct_url.get("url", "")).startswith("file:"):
        return False
    try:
        path = Path(_local_path(direct_url["url"])).resolve()
    except (OSError, ValueError):
        return False
    return path == root or root in path.parents


def _declared_names(root: Path) -> set[str]:
    """The distribution name(s) the work tree declares (pyproject [project] name, setup.cfg metadata)."""
    names: set[str] = set()
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib

            name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
            if isinstance(name, str) and name.strip():
                names.add(_canonical(name))
        except (OSError, ValueError, AttributeError):
            pass
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            name = parser.get("metadata", "name", fallback="")
        except (OSError, configparser.Error):
            name = ""
        if name.strip():
            names.add(_canonical(name))
    return names


def _bounded(packages: list[str], notes: list[str]) -> list[str]:
    """Entries the server accepts: no control characters, per-entry and total size caps (noted if cut)."""
    kept: list[str] = []
    total = 0
    dropped = 0
    for line in packages:
        if _CONTROL.search(line) or len(line) > MAX_ENTRY_CHARS:
            dropped += 1
            continue
        if len(kept) >= MAX_PACKAGES or total + len(line) > MAX_TOTAL_CHARS:
            notes.append(f"only the first {len(kept)} of {len(packages)} packages recorded (size limit)")
            break
        kept.append(line)
        total += len(line) + 1
    if dropped:
        notes.append(f"{dropped} package entries left out (too long or unprintable)")
    return kept


def _clean(text: str, limit: int) -> str:
    return _CONTROL.sub("?", text)[:limit]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version or "")
    if match is None:
        return False
    return (int(match.group(1)), int(match.group(2))) >= minimum


def _parse_json(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _recorder_name() -> str:
    try:
        from bugtrail import __version__

        return f"bugtrail {__version__}"
    except ImportError:
        return "bugtrail"
