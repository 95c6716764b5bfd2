"""Detect what a repository's tests need from the files at base_commit. Pure: reads files, runs nothing.

Sources, all added up: test-like extras (pyproject, setup.cfg, setup.py parsed with `ast`), PEP 735 dependency
groups, setuptools' tests_require, test/dev/CI requirements files and pip-tools inputs, tox.ini `[testenv]
deps`, the runtime requirements.txt, what Poetry, Hatch, PDM, Pipenv and nox declare (declared.py), pytest
plugins implied by the repository's pytest configuration, and the build-system requires.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from bugtrail.qa.environments.declared import Declared, is_test_name, read_declared
from bugtrail.qa.environments.plugins import implied_plugins
from bugtrail.qa.environments.pyast import (
    MAX_SOURCE_BYTES,
    call_name,
    literal,
    module_assignments,
    parse_source,
)
from bugtrail.qa.environments.requirements import (
    ParsedRequirements,
    judge_line,
    logical_lines,
    parse_requirements_file,
    requirement_name,
)

_REQUIREMENT_STEMS = (
    "requirements-test*",
    "requirements_test*",
    "requirements-dev*",
    "requirements_dev*",
    "requirements-ci*",
    "requirements_ci*",
    "test-requirements*",
    "test_requirements*",
    "dev-requirements*",
    "dev_requirements*",
    "requirements/*test*",
    "requirements/dev*",
    "requirements/*-dev*",
    "requirements/ci*",
    "tests/requirements*",
    "ci/requirements*",
)
# Requirements files and pip-tools inputs (`.in`) of tests, development and CI.
REQUIREMENT_GLOBS = tuple(f"{stem}.{ext}" for stem in _REQUIREMENT_STEMS for ext in ("txt", "in"))
SETUPTOOLS_DEFAULT = ["setuptools>=40.8.0", "wheel"]


@dataclass
class Detection:
    project_name: str | None = None
    has_project: bool = False  # there is something to `pip install -e .`
    packages: list[str] = field(default_factory=list)
    build_requires: list[str] = field(default_factory=list)
    requires_python: str | None = None
    plugins: dict[str, str] = field(default_factory=dict)  # implied pytest plugins -> why
    native_sources: list[str] = field(default_factory=list)  # C/C++/Cython sources setup.py compiles
    files: list[str] = field(default_factory=list)  # files read: their content shapes the image (cache key)
    notes: list[str] = field(default_factory=list)

    def add(self, requirement: str, why: str | None = None) -> None:
        if requirement not in self.packages:
            self.packages.append(requirement)
            if why:
                self.notes.append(f"{requirement}: {why}")

    def names(self) -> set[str]:
        return {name for name in map(requirement_name, self.packages) if name}


def is_test_extra(name: str) -> bool:
    return is_test_name(name)


def read_pyproject(tree: Path, notes: list[str]) -> dict[str, Any]:
    path = tree / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        notes.append(f"pyproject.toml is not valid TOML ({exc}); ignored")
        return {}


def read_setup_cfg(tree: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    path = tree / "setup.cfg"
    if path.is_file():
        with contextlib.suppress(configparser.Error):
            parser.read_string(path.read_text(errors="replace"))
    return parser


def cfg_list(value: str) -> list[str]:
    """A setup.cfg dangling list (one item per line, or `;`/`,` separated on one line)."""
    items: list[str] = []
    for line in logical_lines(value):
        items.extend(part.strip() for part in re.split(r"[;,](?![^\[]*\])", line) if part.strip())
    return items


def setup_py_metadata(tree: Path, notes: list[str]) -> tuple[str | None, dict[str, list[str]], list[str]]:
    """(name, extras_require, tests_require) from literal arguments of setup(...) in setup.py, parsed with
    ast, never run."""
    path = tree / "setup.py"
    if not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
        return None, {}, []
    module = parse_source(path.read_text(errors="replace"))
    if module is None:
        notes.append("setup.py does not parse; its extras are unknown")
        return None, {}, []
    assigned = module_assignments(module)
    name: str | None = None
    extras: dict[str, list[str]] = {}
    tests_require: list[str] = []
    for node in ast.walk(module):
        if not (isinstance(node, ast.Call) and call_name(node.func) == "setup"):
            continue
        for keyword in node.keywords:
            value = literal(keyword.value, assigned)
            if keyword.arg == "name" and isinstance(value, str):
                name = value
            elif keyword.arg == "extras_require":
                if isinstance(value, dict):
                    extras.update(
                        {
                            str(k): [str(v) for v in vs]
                            for k, vs in value.items()
                            if isinstance(vs, list | tuple)
                        }
                    )
                else:
                    notes.append("setup.py extras_require is not a literal; not read")
            elif keyword.arg == "tests_require":
                if isinstance(value, list):
                    tests_require.extend(str(v) for v in value)
                else:
                    notes.append("setup.py tests_require is not a literal list; not read")
    return name, extras, tests_require


def dependency_group(
    groups: dict[str, Any], name: str, notes: list[str], seen: frozenset[str] = frozenset()
) -> list[str]:
    """PEP 735: a group's requirements with `{include-group = ...}` expanded (cycles stop)."""
    wanted = canonicalize_name(name)
    entries = next((v for k, v in groups.items() if canonicalize_name(k) == wanted), None)
    if not isinstance(entries, list) or wanted in seen:
        return []
    out: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("include-group"), str):
            out.extend(dependency_group(groups, entry["include-group"], notes, seen | {wanted}))
    return out


def holds_without_factors(condition: str) -> bool:
    """Whether a tox factor condition (`a,b` any of, `a-b` all of, `!a` not a) holds for an environment
    with no optional factors (`py311`): when one of its `,` alternatives negates every factor it names
    (`!dev: pkg`, `!a-!b: pkg`, `!a,b: pkg`)."""
    return any(
        all(f.startswith("!") and len(f) > 1 for f in part.split("-")) for part in condition.split(",")
    )


def tox_plain_line(line: str, kind: str, detection: Detection) -> str | None:
    """A `[testenv]` line as it applies to a plain environment: its factor condition dropped when it holds
    there; None (with a note) when it does not, or when it has a substitution we do not resolve."""
    condition = re.match(r"^([\w,!.-]+):\s+(.*)$", line)
    if condition:
        if not holds_without_factors(condition.group(1)):
            detection.notes.append(f"tox.ini: factor-conditional {kind} {line[:60]!r} skipped")
            return None
        line = condition.group(2).strip()
    if "{" in line:
        detection.notes.append(f"tox.ini: {kind} with a substitution {line[:60]!r} skipped")
        return None
    return line


def tox_deps(tree: Path, detection: Detection, parsed: ParsedRequirements) -> list[str]:
    """`[testenv] deps` lines: unconditional ones, `{toxinidir}` resolved, other substitutions skipped."""
    path = tree / "tox.ini"
    if not path.is_file():
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except configparser.Error:
        detection.notes.append("tox.ini does not parse; its deps are unknown")
        return []
    if not parser.has_option("testenv", "deps") and not parser.has_option("testenv", "extras"):
        return []
    detection.files.append("tox.ini")
    tox_extras(parser, detection, parsed)
    if not parser.has_option("testenv", "deps"):
        return []
    out = []
    for line in logical_lines(parser.get("testenv", "deps")):
        line = line.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
        unconditional = tox_plain_line(line, "dep", detection)
        if unconditional is None:
            continue
        if unconditional != line:
            detection.notes.append(
                f"tox.ini: {unconditional[:60]!r} applies to an environment without those factors"
            )
        line = unconditional
        include = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)$", line)
        if include:
            parse_requirements_file(tree, include.group(1), parsed)
            continue
        self_ref = re.match(r"^(?:-e\s+)?\.\s*(?:\[([^\]]*)\])?$", line)
        if self_ref:
            parsed.project_extras.update(e.strip() for e in (self_ref.group(1) or "").split(",") if e.strip())
            continue
        out.append(line)
    return out


def tox_extras(parser: configparser.ConfigParser, detection: Detection, parsed: ParsedRequirements) -> None:
    """`[testenv] extras`: the project's extras tox installs it with (`extras = diagrams`), one a line or
    comma-separated; factor-conditional ones only when they hold for a plain environment."""
    if not parser.has_option("testenv", "extras"):
        return
    for line in logical_lines(parser.get("testenv", "extras")):
        unconditional = tox_plain_line(line, "extra", detection)
        if unconditional is None:
            continue
        for extra in unconditional.split(","):
            if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", extra.strip()):
                parsed.project_extras.add(extra.strip())
                detection.notes.append(f"tox.ini: [testenv] extras {extra.strip()!r}")


NATIVE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".pyx", ".pxd")
_BUILDS_EXTENSIONS = re.compile(r"\b(?:Extension|cythonize|ext_modules)\b")
_NOT_EXTENSION_DIRS = {
    ".git",
    ".tox",
    ".nox",
    "build",
    "dist",
    "docs",
    "doc",
    "node_modules",
    "venv",
    ".venv",
}


def native_sources(tree: Path, limit: int = 200) -> list[str]:
    """The checkout's C/C++/Cython sources when its setup.py builds extensions (`Extension(`, `ext_modules`,
    `cythonize`); else none. The image then gets a compiler, and the extensions are rebuilt in place at test
    time when the edits change these files (entry.sh)."""
    setup_py = tree / "setup.py"
    if not setup_py.is_file() or not _BUILDS_EXTENSIONS.search(setup_py.read_text(errors="replace")):
        return []
    found: list[str] = []
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree)
        if set(relative.parts[:-1]) & _NOT_EXTENSION_DIRS or path.suffix not in NATIVE_SUFFIXES:
            continue
        if path.is_file() and not path.is_symlink():
            found.append(relative.as_posix())
            if len(found) >= limit:
                break
    return found


def detect(tree: Path) -> Detection:
    detection = Detection()
    notes = detection.notes
    pyproject = read_pyproject(tree, notes)
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    setup_cfg = read_setup_cfg(tree)
    setup_name, setup_py_extras, tests_require = setup_py_metadata(tree, notes)
    declared = read_declared(tree, pyproject)

    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        if (tree / name).is_file():
            detection.files.append(name)
    detection.has_project = (
        bool(project)
        or (tree / "setup.py").is_file()
        or setup_cfg.has_section("metadata")
        or declared.installable
    )
    detection.native_sources = native_sources(tree) if detection.has_project else []
    if detection.native_sources:
        notes.append(
            f"setup.py builds extensions from {len(detection.native_sources)} C/C++/Cython file(s): a "
            "compiler and the Python headers are installed; edited ones are rebuilt in place before the tests"
        )
    detection.project_name = (
        (project or {}).get("name")
        or (setup_cfg.get("metadata", "name") if setup_cfg.has_option("metadata", "name") else None)
        or setup_name
        or declared.project_name
    )
    detection.requires_python = (
        (project or {}).get("requires-python")
        or (
            setup_cfg.get("options", "python_requires")
            if setup_cfg.has_option("options", "python_requires")
            else None
        )
        or declared.requires_python
    )

    extras: dict[str, list[str]] = {}
    optional = (project or {}).get("optional-dependencies")
    if isinstance(optional, dict):
        extras.update({str(k): [str(v) for v in vs] for k, vs in optional.items() if isinstance(vs, list)})
    if setup_cfg.has_section("options.extras_require"):
        for key, value in setup_cfg.items("options.extras_require"):
            extras.setdefault(key, cfg_list(value))
    for key, values in [*setup_py_extras.items(), *declared.extras.items()]:
        extras.setdefault(key, values)

    parsed = ParsedRequirements()
    wanted_extras = {name for name in extras if is_test_extra(name)}
    groups = pyproject.get("dependency-groups")
    if isinstance(groups, dict):
        for group in groups:
            if is_test_extra(group):
                for line in dependency_group(groups, group, notes):
                    _add_line(detection, line, f"dependency group {group!r}", parsed)
    add_declared(detection, declared, setup_cfg, tests_require, parsed)
    requirement_files = sorted(
        {p.relative_to(tree).as_posix() for g in REQUIREMENT_GLOBS for p in tree.glob(g)}
    )
    if (tree / "requirements.txt").is_file():
        requirement_files.insert(0, "requirements.txt")
    for relative in requirement_files:
        before = len(parsed.packages)
        parse_requirements_file(tree, relative, parsed)
        for line in parsed.packages[before:]:
            detection.add(line, f"from {relative}")
    for line in tox_deps(tree, detection, parsed):
        _add_line(detection, line, "tox.ini [testenv] deps", parsed)
    for line in parsed.packages:
        detection.add(line)
    detection.files.extend(f for f in parsed.files if f not in detection.files)
    notes.extend(parsed.notes)
    wanted_extras |= {e for e in parsed.project_extras | declared.project_extras if e in extras}

    for extra in sorted(wanted_extras):
        for line in expand_extra(extras, extra, detection.project_name):
            _add_line(detection, line, f"extra {extra!r}", parsed)

    plugins = implied_plugins(tree)
    if plugins.config_file and plugins.config_file not in detection.files:
        detection.files.append(plugins.config_file)
    have = detection.names()
    for requirement, why in plugins.plugins.items():
        if requirement_name(requirement) not in have:
            detection.plugins[requirement] = f"implied by {why}"
            detection.add(requirement, f"implied by {why}")
    notes.extend(plugins.notes)

    build_system = pyproject.get("build-system")
    if isinstance(build_system, dict) and isinstance(build_system.get("requires"), list):
        detection.build_requires = [str(r) for r in build_system["requires"]]
    elif detection.has_project:
        detection.build_requires = list(SETUPTOOLS_DEFAULT)
    return detection


def add_declared(
    detection: Detection,
    declared: Declared,
    setup_cfg: configparser.ConfigParser,
    tests_require: list[str],
    parsed: ParsedRequirements,
) -> None:
    """setuptools' `tests_require` and what Poetry, Hatch, PDM, Pipenv and nox declare (declared.py)."""
    for line in tests_require:
        _add_line(detection, line, "setup.py tests_require", parsed)
    if setup_cfg.has_option("options", "tests_require"):
        for line in cfg_list(setup_cfg.get("options", "tests_require")):
            _add_line(detection, line, "setup.cfg [options] tests_require", parsed)
    for line, where in declared.requirements:
        _add_line(detection, line, where, parsed)
    detection.files.extend(f for f in declared.files if f not in detection.files)
    detection.notes.extend(declared.notes)


def expand_extra(extras: dict[str, list[str]], extra: str, project: str | None, depth: int = 0) -> list[str]:
    """An extra's requirements, with `project[other]` self-references expanded."""
    out: list[str] = []
    own = canonicalize_name(project) if project else None
    for line in extras.get(extra, []):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            out.append(line)
            continue
        if own and canonicalize_name(requirement.name) == own:
            if depth < 5:
                for other in sorted(requirement.extras):
                    out.extend(expand_extra(extras, other, project, depth + 1))
            continue
        out.append(line)
    return out


def _add_line(detection: Detection, line: str, why: str, parsed: ParsedRequirements) -> None:
    kept, dropped = judge_line(line)
    if kept:
        own = canonicalize_name(detection.project_name) if detection.project_name else None
        if own and requirement_name(kept) == own:
            return
        detection.add(kept, why)
    elif dropped:
        detection.notes.append(f"{why}: {dropped}")
