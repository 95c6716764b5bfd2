"""Test dependencies declared by project tools other than pip and setuptools: Poetry, Hatch, PDM, Pipenv, nox.

Pure like detect.py: TOML is parsed, noxfile.py is read with `ast`; nothing is run or fetched. Each reader
returns requirement lines with where they came from; detect() judges them (local paths, unpinned VCS and
index options are dropped there) and adds them up with what it reads itself.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from poetry.core.constraints.version import parse_constraint
from poetry.core.factory import Factory

from bugtrail.qa.environments.pyast import (
    MAX_SOURCE_BYTES,
    call_name,
    literal,
    module_assignments,
    parse_source,
)
from bugtrail.qa.environments.requirements import ParsedRequirements, parse_requirements_file

TEST_NAME = re.compile(r"test|^(dev|devel|develop|development|ci|check|checks)$")
# Poetry and Pipenv entries that point at code, not at a release on the index: never installed.
LOCATION_KEYS = ("git", "path", "url", "file", "hg", "svn", "bzr")
# Pipfile tables may carry PEP 508 markers as keys of their own (`sys_platform = "== 'win32'"`).
PIPFILE_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)
# What `hatch test` installs unless the repository replaces its dependencies: pytest-mock's `mocker`
# fixture is the one tests use by name (the rest are runners and reporters).
HATCH_TEST_DEFAULTS = ("pytest-mock",)
_SELF_INSTALL = re.compile(r"^(?:-e\s+|--editable[=\s]+)?\.\s*(?:\[([^\]]*)\])?$")


def is_test_name(name: str) -> bool:
    return bool(TEST_NAME.search(canonicalize_name(name)))


@dataclass
class Declared:
    requirements: list[tuple[str, str]] = field(default_factory=list)  # (requirement line, where from)
    extras: dict[str, list[str]] = field(default_factory=dict)  # the project's extras these tools define
    project_extras: set[str] = field(default_factory=set)  # extras of the checkout that are wanted
    project_name: str | None = None
    requires_python: str | None = None
    installable: bool = False  # pip can install the checkout through its PEP 517 backend
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, lines: list[str], where: str) -> None:
        self.requirements.extend((line, where) for line in lines)

    def installs_project(self, line: str) -> bool:
        """`.`, `-e .`, `.[a,b]`: the checkout itself, whose extras a and b are then wanted."""
        found = _SELF_INSTALL.match(line.strip())
        if found:
            self.project_extras.update(e.strip() for e in (found.group(1) or "").split(",") if e.strip())
        return bool(found)

    def read_file(self, name: str) -> None:
        if name not in self.files:
            self.files.append(name)


def read_declared(tree: Path, pyproject: dict[str, Any]) -> Declared:
    """Everything Poetry, Hatch, PDM, Pipenv and nox declare for tests."""
    declared = Declared()
    tool = _table(pyproject.get("tool"))
    read_poetry(_table(tool.get("poetry")), pyproject, declared)
    read_hatch(_table(_table(tool.get("hatch")).get("envs")), declared)
    read_pdm(_table(_table(tool.get("pdm")).get("dev-dependencies")), declared)
    read_pipfile(tree, declared)
    read_noxfile(tree, declared)
    return declared


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- Poetry -----------------------------------------------------------------------------------------------


def poetry_requirements(table: dict[str, Any], where: str, notes: list[str]) -> list[str]:
    """PEP 508 lines for a Poetry dependency table (constraints converted by poetry-core's own parser)."""
    lines: list[str] = []
    for name, spec in table.items():
        if canonicalize_name(str(name)) == "python":
            continue
        for one in spec if isinstance(spec, list) else [spec]:  # a list: one constraint per Python/platform
            line = poetry_requirement(str(name), one, where, notes)
            if line:
                lines.append(line)
    return lines


def poetry_requirement(name: str, spec: Any, where: str, notes: list[str]) -> str | None:
    if isinstance(spec, dict):
        location = next((key for key in LOCATION_KEYS if key in spec), None)
        if location:
            notes.append(f"{where}: {name} comes from a {location} location, not installed")
            return None
        spec = {k: v for k, v in spec.items() if k not in ("source", "develop", "allow-prereleases")}
    elif not isinstance(spec, str):
        notes.append(f"{where}: {name} has a constraint of type {type(spec).__name__}, skipped")
        return None
    try:
        dependency = Factory.create_dependency(name, spec)
        return str(Requirement(dependency.to_pep_508()))
    except Exception as exc:  # poetry-core raises ValueError, lark and attribute errors on bad input
        notes.append(f"{where}: {name} = {str(spec)[:60]!r} is not a valid Poetry constraint ({exc!s:.80})")
        return None


def read_poetry(poetry: dict[str, Any], pyproject: dict[str, Any], declared: Declared) -> None:
    """Test-like groups, the old `dev-dependencies`, and extras over optional dependencies. The runtime
    `dependencies` are installed with the checkout (poetry-core builds it), so they are not listed here."""
    if not poetry:
        return
    backend = str(_table(pyproject.get("build-system")).get("build-backend") or "")
    if backend.startswith("poetry") and isinstance(poetry.get("name"), str):
        declared.installable = True
        declared.project_name = poetry["name"]
    runtime = _table(poetry.get("dependencies"))
    python = runtime.get("python")
    if isinstance(python, str):
        declared.requires_python = poetry_python(python, declared.notes)
    dev = _table(poetry.get("dev-dependencies"))
    if dev:
        where = "pyproject.toml [tool.poetry.dev-dependencies]"
        declared.add(poetry_requirements(dev, where, declared.notes), where)
    for group, body in _table(poetry.get("group")).items():
        if is_test_name(str(group)):
            where = f"pyproject.toml [tool.poetry.group.{group}.dependencies]"
            table = _table(_table(body).get("dependencies"))
            declared.add(poetry_requirements(table, where, declared.notes), where)
    for extra, names in _table(poetry.get("extras")).items():
        if isinstance(names, list):
            wanted = {canonicalize_name(str(n)) for n in names}
            chosen = {k: v for k, v in runtime.items() if canonicalize_name(str(k)) in wanted}
            where = f"pyproject.toml [tool.poetry.extras] {extra}"
            declared.extras[str(extra)] = poetry_requirements(chosen, where, declared.notes)


def poetry_python(constraint: str, notes: list[str]) -> str | None:
    """Poetry's `python = "^3.8"` as a PEP 440 specifier set (">=3.8,<4.0"); unions (`||`) are not one."""
    try:
        converted = str(parse_constraint(constraint))
        SpecifierSet(converted)
    except (ValueError, InvalidSpecifier):
        notes.append(f"pyproject.toml [tool.poetry.dependencies] python {constraint[:40]!r} not used")
        return None
    return None if converted == "*" else converted


# --- Hatch and PDM ----------------------------------------------------------------------------------------


def read_hatch(envs: dict[str, Any], declared: Declared) -> None:
    """`default`, test-like and `hatch-test` environments: dependencies, extra-dependencies, features."""
    for env, body in envs.items():
        name = str(env)
        if not (name == "default" or is_test_name(name)) or not isinstance(body, dict):
            continue
        where = f"pyproject.toml [tool.hatch.envs.{name}]"
        for key in ("dependencies", "extra-dependencies"):
            values = body.get(key)
            if isinstance(values, list):
                declared.add(_without_context(values, f"{where} {key}", declared.notes), f"{where} {key}")
        features = body.get("features")
        if isinstance(features, list):
            declared.project_extras.update(str(f) for f in features)
        if name == "hatch-test" and not isinstance(body.get("dependencies"), list):
            declared.add(list(HATCH_TEST_DEFAULTS), f"{where} (hatch test's default dependencies)")


def _without_context(values: list[Any], where: str, notes: list[str]) -> list[str]:
    """Hatch's `{root:uri}`/`{env:X}` context formatting needs Hatch itself: such lines are skipped."""
    out = []
    for value in values:
        text = str(value)
        if "{" in text:
            notes.append(f"{where}: {text[:60]!r} uses Hatch context formatting, skipped")
        else:
            out.append(text)
    return out


def read_pdm(groups: dict[str, Any], declared: Declared) -> None:
    """`[tool.pdm.dev-dependencies]`: test-like groups of PEP 508 lines; `-e` entries are local code."""
    for group, lines in groups.items():
        if not is_test_name(str(group)) or not isinstance(lines, list):
            continue
        where = f"pyproject.toml [tool.pdm.dev-dependencies] {group}"
        kept = []
        for line in map(str, lines):
            if declared.installs_project(line):
                continue
            if line.startswith("-e"):
                declared.notes.append(f"{where}: editable {line[:60]!r} is local code, not installed")
            else:
                kept.append(line)
        declared.add(kept, where)


# --- Pipfile ----------------------------------------------------------------------------------------------


def read_pipfile(tree: Path, declared: Declared) -> None:
    """`[packages]` and `[dev-packages]`: what `pipenv install --dev` installs (`*` means any version)."""
    path = tree / "Pipfile"
    if not path.is_file():
        return
    try:
        pipfile = tomllib.loads(path.read_text(errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        declared.notes.append(f"Pipfile is not valid TOML ({exc}); ignored")
        return
    declared.read_file("Pipfile")
    for section in ("packages", "dev-packages"):
        where = f"Pipfile [{section}]"
        lines = []
        for name, spec in _table(pipfile.get(section)).items():
            line = pipfile_requirement(str(name), spec, where, declared.notes)
            if line:
                lines.append(line)
        declared.add(lines, where)


def pipfile_requirement(name: str, spec: Any, where: str, notes: list[str]) -> str | None:
    extras: list[str] = []
    markers: list[str] = []
    if isinstance(spec, dict):
        location = next((key for key in (*LOCATION_KEYS, "editable") if key in spec), None)
        if location:
            notes.append(f"{where}: {name} comes from a {location} location, not installed")
            return None
        extras = [str(e) for e in spec["extras"]] if isinstance(spec.get("extras"), list) else []
        if isinstance(spec.get("markers"), str):
            markers.append(f"({spec['markers']})")
        markers += [f"{key} {spec[key]}" for key in PIPFILE_MARKER_KEYS if isinstance(spec.get(key), str)]
        spec = spec.get("version", "*")
    if not isinstance(spec, str):
        notes.append(f"{where}: {name} has a version of type {type(spec).__name__}, skipped")
        return None
    version = spec.strip()
    if version in ("", "*"):
        version = ""
    elif version[0].isdigit():
        version = f"=={version}"
    line = name + (f"[{','.join(extras)}]" if extras else "") + version
    if markers:
        line += " ; " + " and ".join(markers)
    try:
        return str(Requirement(line))
    except InvalidRequirement:
        notes.append(f"{where}: {name} = {str(spec)[:60]!r} is not a valid requirement, skipped")
        return None


# --- nox --------------------------------------------------------------------------------------------------


def read_noxfile(tree: Path, declared: Declared) -> None:
    """Literal arguments of `session.install(...)` in test-like sessions of noxfile.py, read with ast."""
    path = tree / "noxfile.py"
    if not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
        return
    module = parse_source(path.read_text(errors="replace"))
    if module is None:
        declared.notes.append("noxfile.py does not parse; its sessions are unknown")
        return
    assigned = module_assignments(module)
    for function in module.body:
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        name = nox_session_name(function)
        if name is None or not is_test_name(name) or not function.args.args:
            continue
        declared.read_file("noxfile.py")
        session = function.args.args[0].arg
        where = f"noxfile.py session {name!r}"
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "install"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == session
            ):
                args = install_arguments(node, assigned, where, declared.notes)
                nox_install(tree, args, where, declared)


def nox_session_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The session's name when the function is decorated `@nox.session` / `@session(...)`, else None."""
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        if call_name(call.func if call else decorator) != "session":
            continue
        for keyword in call.keywords if call else []:
            if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
        return function.name
    return None


def install_arguments(
    call: ast.Call, assigned: dict[str, ast.expr], where: str, notes: list[str]
) -> list[str]:
    """String arguments, `*NAMES` of module-level literal lists followed; anything computed is noted."""
    args: list[str] = []
    for arg in call.args:
        starred = isinstance(arg, ast.Starred)
        value = literal(arg.value if isinstance(arg, ast.Starred) else arg, assigned)
        if isinstance(value, str) and not starred:
            args.append(value)
        elif starred and isinstance(value, list) and all(isinstance(v, str) for v in value):
            args.extend(value)
        else:
            notes.append(f"{where}: a computed install argument ({ast.unparse(arg)[:60]}) not read")
    return args


def nox_install(tree: Path, args: list[str], where: str, declared: Declared) -> None:
    """One `session.install(...)`: `-r file` read like a requirements file, `.`/`-e .[x]` the project."""
    kept: list[str] = []
    items = iter(args)
    for arg in items:
        option = re.match(r"^(-r|--requirement|-c|--constraint|-e|--editable)(?:=|\s+)?(.*)$", arg)
        if option:
            flag, value = option.group(1), option.group(2) or next(items, "")
            if flag in ("-r", "--requirement"):
                nox_requirements_file(tree, value, where, declared)
            elif flag in ("-e", "--editable") and not declared.installs_project(value):
                declared.notes.append(f"{where}: editable {value[:60]!r} is local code, not installed")
            continue
        if declared.installs_project(arg):
            continue
        if arg.startswith("-"):
            declared.notes.append(f"{where}: option {arg[:60]!r} ignored")
        else:
            kept.append(arg)
    declared.add(kept, where)


def nox_requirements_file(tree: Path, relative: str, where: str, declared: Declared) -> None:
    included = ParsedRequirements()
    parse_requirements_file(tree, relative, included)
    declared.add(included.packages, f"{where} -r {relative}")
    declared.project_extras |= included.project_extras
    for name in included.files:
        declared.read_file(name)
    declared.notes.extend(included.notes)
