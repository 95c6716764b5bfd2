"""Infer what a repository's tests import but its declarations miss. Pure: reads files (`ast`), runs nothing.

Read: the test files the test command names (a directory or no path at all: the test files under it), every
conftest.py between them and the repository root. Found: top-level imports that are neither the standard
library nor the repository's own modules (any package or module in the tree, src/ layout, tests' helper
modules, relative imports), fixtures and markers only a well-known pytest plugin provides, and
`pytest_plugins` declarations. Imports guarded by `try/except ImportError`, `pytest.importorskip`,
`if TYPE_CHECKING` or a version/platform check are optional: reported, not installed.
Bounded by files walked, files parsed, file size and wall-clock time; a file that does not parse is a note.
"""

from __future__ import annotations

import ast
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from bugtrail.qa.environments.import_names import (
    ALWAYS_PRESENT,
    BUILTIN_PLUGINS,
    FIXTURE_PLUGINS,
    MARKER_PLUGINS,
    distribution_for,
)

MAX_WALK_ENTRIES = 50_000
MAX_FILES = 300
MAX_FILE_BYTES = 512 * 1024
MAX_SECONDS = 10.0
MAX_NEEDS = 40
# Directories that hold no code of the repository's own (environments, caches, VCS, build output).
SKIP_DIRS = frozenset(
    {"node_modules", "site-packages", "dist-packages", "__pycache__", "build", "dist", "venv", "env"}
)
GUARD_EXCEPTIONS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
CONDITION_NAMES = frozenset({"TYPE_CHECKING", "version_info", "platform", "PY2", "PY3", "PYPY", "IS_PYPY"})
NOT_FIXTURES = frozenset({"self", "cls", "request"})


@dataclass(frozen=True)
class Need:
    module: str  # the import name the image is checked for (importlib.util.find_spec)
    distribution: str
    why: str
    optional: bool = False


@dataclass
class Inference:
    needs: list[Need] = field(default_factory=list)  # to install when still missing
    optional: list[Need] = field(default_factory=list)  # reported only
    files: list[str] = field(default_factory=list)  # files parsed (relative paths)
    notes: list[str] = field(default_factory=list)


@dataclass
class FileFindings:
    imports: dict[str, bool] = field(default_factory=dict)  # dotted name -> optional everywhere so far
    fixtures_used: set[str] = field(default_factory=set)
    fixtures_defined: set[str] = field(default_factory=set)
    markers: set[str] = field(default_factory=set)
    plugins: set[str] = field(default_factory=set)
    references: set[tuple[str, int, tuple[str, ...]]] = field(default_factory=set)  # (module, level, names)

    def add_import(self, name: str, optional: bool) -> None:
        self.imports[name] = self.imports.get(name, True) and optional


@dataclass
class Tree:
    """One bounded walk: the repository's Python files and the names of its own modules."""

    root: Path
    python_files: list[str] = field(default_factory=list)
    local_names: set[str] = field(default_factory=set)
    truncated: bool = False


def walk_tree(root: Path, max_entries: int = MAX_WALK_ENTRIES) -> Tree:
    tree = Tree(root)
    seen = 0
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        relative = here.relative_to(root)
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(here, d))
        seen += len(dirs) + len(files)
        if seen > max_entries:
            tree.truncated = True
            break
        top_level = len(relative.parts) == 1 or (len(relative.parts) == 2 and relative.parts[0] == "src")
        if "__init__.py" in files or top_level:
            tree.local_names.add(here.name)  # a package, or a top-level (namespace) directory
        for name in sorted(files):
            if name.endswith(".py"):
                tree.local_names.add(name[:-3])
                tree.python_files.append((relative / name).as_posix())
        for name in files:  # extension modules built in place count as the repository's own
            if name.endswith((".so", ".pyd")):
                tree.local_names.add(name.split(".")[0])
    return tree


def _skipped_dir(parent: Path, name: str) -> bool:
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    return (parent / name / "pyvenv.cfg").exists()


def command_targets(root: Path, test_command: str | None) -> list[str]:
    """Paths inside the tree that the test command names (`path::test` and `path` tokens), relative."""
    if not test_command:
        return []
    try:
        tokens = shlex.split(test_command)
    except ValueError:
        return []
    resolved_root = root.resolve()
    targets: list[str] = []
    for token in tokens[:200]:
        if token.startswith("-") or "\0" in token:
            continue
        candidate = token.split("::", 1)[0].rstrip("/")
        if not candidate or candidate.startswith("/") or len(candidate) > 1000:
            continue
        try:
            path = (root / candidate).resolve()
        except (OSError, RuntimeError):  # a symlink loop, a name too long: names nothing
            continue
        if not path.is_relative_to(resolved_root):
            continue
        if path.is_dir() or (path.is_file() and path.suffix == ".py"):
            relative = path.relative_to(resolved_root).as_posix()
            targets.append("" if relative == "." else relative)
        elif candidate.endswith(".py") and path.parent.is_dir():
            # A test file the edits add: its directory's tests and conftests stand in for it.
            parent = path.parent.relative_to(resolved_root).as_posix()
            targets.append("" if parent == "." else parent)
    return list(dict.fromkeys(targets))


def is_test_file(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return (name.startswith("test") and name.endswith(".py")) or name.endswith("_test.py")


def files_to_read(tree: Tree, targets: list[str]) -> list[str]:
    """conftest.py files first (root to leaf), then the test files, without duplicates."""
    known = set(tree.python_files)
    chosen: list[str] = []
    for target in targets or [""]:
        prefix = f"{target}/" if target else ""
        if target in known:
            chosen.append(target)
        else:
            chosen.extend(f for f in tree.python_files if f.startswith(prefix) and is_test_file(f))
        chosen.extend(f for f in tree.python_files if f.startswith(prefix) and f.endswith("conftest.py"))
    conftests: list[str] = []
    for relative in chosen:
        parts = relative.split("/")[:-1]
        for depth in range(len(parts) + 1):
            conftest = "/".join([*parts[:depth], "conftest.py"])
            if conftest in known:
                conftests.append(conftest)
    ordered = sorted(set(conftests), key=lambda f: (f.count("/"), f))
    return list(dict.fromkeys([*ordered, *chosen]))


def infer_needs(
    root: Path,
    test_command: str | None,
    *,
    max_files: int = MAX_FILES,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_seconds: float = MAX_SECONDS,
    max_entries: int = MAX_WALK_ENTRIES,
    edited: dict[str, FileFindings] | None = None,
    edited_names: set[str] | None = None,
) -> Inference:
    """`edited`: findings from the trace's edits (inferred_edits.py); `edited_names`: the modules they touch
    (the repository's own, even when base_commit does not have them yet)."""
    started = time.monotonic()
    inference = Inference()
    tree = walk_tree(root, max_entries)
    tree.local_names |= edited_names or set()
    if tree.truncated:
        inference.notes.append(f"inference: the tree has over {max_entries} entries; the walk stopped there")
    targets = command_targets(root, test_command)
    files = files_to_read(tree, targets)
    where = ", ".join(t or "." for t in targets) if targets else "the whole tree (the command names no path)"
    inference.notes.append(f"inference: {len(files)} test/conftest file(s) under {where}")
    if len(files) > max_files:
        inference.notes.append(f"inference: read the first {max_files} of {len(files)} files")
        files = files[:max_files]
    findings: dict[str, FileFindings] = {}
    queue, queued = list(files), set(files)
    known = set(tree.python_files)
    while queue and len(findings) < max_files:
        relative = queue.pop(0)
        if time.monotonic() - started > max_seconds:
            inference.notes.append(f"inference: stopped after {max_seconds:.0f}s, {len(findings)} files read")
            break
        found = read_file(root / relative, relative, max_file_bytes, inference.notes)
        if found is None:
            continue
        findings[relative] = found
        inference.files.append(relative)
        for helper in test_helpers(known, relative, found):
            if helper not in queued:  # the tests' own helper modules: their imports count too
                queued.add(helper)
                queue.append(helper)
    for label, found in (edited or {}).items():
        findings[label] = found
        inference.files.append(label)
    resolve(findings, tree.local_names, inference)
    return inference


def test_helpers(known: set[str], importer: str, found: FileFindings) -> list[str]:
    """Repository files the module imports that are test helpers (a path part containing "test", e.g.
    tests/helpers.py, pkg/testutils.py), and modules named in pytest_plugins."""
    importer_dir = importer.rpartition("/")[0]
    references = [*found.references, *((plugin, 0, ()) for plugin in found.plugins)]
    helpers: list[str] = []
    for module, level, names in sorted(references):
        if level:
            parts = importer_dir.split("/") if importer_dir else []
            bases = ["/".join(parts[: len(parts) - (level - 1)])] if level - 1 <= len(parts) else []
        else:
            bases = ["", "src", importer_dir]
        dotted = [p for p in module.split(".") if p]
        for base in dict.fromkeys(bases):
            for name in [None, *names]:
                path = "/".join(p for p in [base, *dotted, *([name] if name else [])] if p)
                for candidate in (f"{path}.py", f"{path}/__init__.py"):
                    if candidate in known and candidate != importer and "test" in candidate.lower():
                        helpers.append(candidate)
    return list(dict.fromkeys(helpers))


def read_file(path: Path, relative: str, max_bytes: int, notes: list[str]) -> FileFindings | None:
    try:
        if path.is_symlink() or path.stat().st_size > max_bytes:
            notes.append(f"inference: {relative} skipped (a symlink or over {max_bytes // 1024} KiB)")
            return None
        module = ast.parse(path.read_bytes(), filename=relative)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        notes.append(f"inference: {relative} does not parse ({type(exc).__name__}); skipped")
        return None
    except OSError as exc:
        notes.append(f"inference: {relative} unreadable ({exc.strerror or exc}); skipped")
        return None
    collector = Collector()
    try:
        collector.visit(module)
    except RecursionError:
        notes.append(f"inference: {relative} nests too deeply; partly read")
    return collector.found


class Collector(ast.NodeVisitor):
    """Imports (with their guard), fixtures used and defined, markers and pytest_plugins of one module."""

    def __init__(self) -> None:
        self.found = FileFindings()
        self.guarded = 0

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.add_import(alias.name, self.guarded > 0)
            self.found.references.add((alias.name, 0, ()))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.add_import(node.module, self.guarded > 0)
        names = tuple(alias.name for alias in node.names if alias.name != "*")
        self.found.references.add((node.module or "", node.level, names))

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(handler.type) for handler in node.handlers)
        self.guarded += guarded
        for child in node.body:
            self.visit(child)
        self.guarded -= guarded
        for handler in node.handlers:
            self.visit(handler)
        for child in [*node.orelse, *node.finalbody]:
            self.visit(child)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    def visit_If(self, node: ast.If) -> None:
        conditional = any(
            isinstance(n, ast.Name | ast.Attribute) and _last_name(n) in CONDITION_NAMES
            for n in ast.walk(node.test)
        )
        self.guarded += conditional
        for child in [*node.body, *node.orelse]:
            self.visit(child)
        self.guarded -= conditional

    def visit_Call(self, node: ast.Call) -> None:
        name = _last_name(node.func)
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if name == "importorskip" and literal:
            self.found.add_import(literal, True)
        elif name == "import_module" and literal and not literal.startswith("."):
            self.found.add_import(literal, self.guarded > 0)
        elif name == "usefixtures":
            self.found.fixtures_used.update(
                a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _last_name(node.value) == "mark":  # pytest.mark.NAME, or mark.NAME after `from pytest import mark`
            self.found.markers.add(node.attr)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets):
            value = node.value
            items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            self.found.plugins.update(
                i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
            )
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        fixture_names = [_fixture_name(d, node.name) for d in node.decorator_list]
        defined = [n for n in fixture_names if n]
        self.found.fixtures_defined.update(defined)
        if defined or node.name.startswith("test"):
            arguments = node.args
            parametrized = set().union(*map(_parametrized_names, node.decorator_list))
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if arg.arg not in NOT_FIXTURES and arg.arg not in parametrized:
                    self.found.fixtures_used.add(arg.arg)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef


def _last_name(node: ast.expr) -> str | None:
    """`name` of `name` or `a.b.name` (kept here, not shared with detect.py, which another change reworks)."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _catches_import_error(handler_type: ast.expr | None) -> bool:
    if handler_type is None:
        return True  # a bare except
    if isinstance(handler_type, ast.Tuple):
        return any(_catches_import_error(element) for element in handler_type.elts)
    return _last_name(handler_type) in GUARD_EXCEPTIONS


def _parametrized_names(decorator: ast.expr) -> set[str]:
    """Argument names a `parametrize(...)` decorator supplies (they are not fixtures)."""
    is_parametrize = isinstance(decorator, ast.Call) and _last_name(decorator.func) == "parametrize"
    if not isinstance(decorator, ast.Call) or not is_parametrize or not decorator.args:
        return set()
    first = decorator.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return {name.strip() for name in first.value.split(",")}
    if isinstance(first, ast.List | ast.Tuple):
        return {e.value for e in first.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def _fixture_name(decorator: ast.expr, function: str) -> str | None:
    """The fixture's name when the decorator is `fixture`/`pytest.fixture`/`pytest_asyncio.fixture`(...)."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    if _last_name(target) not in {"fixture", "yield_fixture"}:
        return None
    for keyword in call.keywords if call else []:
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return function


def resolve(findings: dict[str, FileFindings], local_names: set[str], inference: Inference) -> None:
    """Findings of every file -> needs (required anywhere) and optional needs, one per distribution."""
    chosen: dict[str, Need] = {}
    defined = set().union(*(f.fixtures_defined for f in findings.values())) if findings else set()
    stdlib = set(sys.stdlib_module_names)

    def offer(distribution: str, module: str, why: str, optional: bool) -> None:
        key = canonicalize_name(distribution)
        known = chosen.get(key)
        if known is None or (known.optional and not optional):
            chosen[key] = Need(module, distribution, why, optional)

    for relative, found in findings.items():
        for name, optional in found.imports.items():
            top = name.split(".")[0]
            if not top.isidentifier() or top in stdlib or top in local_names or top in ALWAYS_PRESENT:
                continue
            distribution, module = distribution_for(name)
            offer(distribution, module, f"imported by {relative}", optional)
        for plugin in found.plugins:
            top = plugin.split(".")[0]
            if top.isidentifier() and top not in local_names and plugin not in BUILTIN_PLUGINS:
                distribution, module = distribution_for(plugin)
                offer(distribution, module, f"pytest_plugins in {relative}", False)
        for fixture in sorted(found.fixtures_used - defined):
            if fixture in FIXTURE_PLUGINS:
                distribution, module = FIXTURE_PLUGINS[fixture]
                offer(distribution, module, f"fixture {fixture!r} in {relative}", False)
        for marker in sorted(found.markers):
            if marker in MARKER_PLUGINS:
                distribution, module = MARKER_PLUGINS[marker]
                offer(distribution, module, f"marker {marker!r} in {relative}", False)
    needs = sorted(chosen.values(), key=lambda n: n.distribution.lower())
    inference.needs = [n for n in needs if not n.optional]
    inference.optional = [n for n in needs if n.optional]
    if len(inference.needs) > MAX_NEEDS:
        inference.notes.append(f"inference: {len(inference.needs)} found; the first {MAX_NEEDS} kept")
        inference.needs = inference.needs[:MAX_NEEDS]
