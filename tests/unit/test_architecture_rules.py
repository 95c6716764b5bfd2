"""The layout rules of ARCHITECTURE.md, checked on the source tree by reading its syntax (nothing imported).

- transaction: only the declared owners commit or open a committing scope (`.commit`, `.scope(`,
  `session_scope(`): the request dependency, the CLI, the worker and its task handlers, and flows.
- sql: SQLAlchemy statements (`select(`, `insert(`, `update(`, `delete(`, `text(`) and `session.execute`
  only in repository modules and db/.
- fastapi: FastAPI/Starlette imports only in routes modules, api/ and the dashboard's web modules.
- jobs-imports-domain: the queue (jobs/) imports no domain.

A test of the test runs the checker on tests/data/architecture_rules/, a small tree with one example of each
violation next to the same code in its allowed place.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "bugtrail"
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "architecture_rules" / "bugtrail"

TRANSACTION_OWNERS = (
    "api/deps.py",  # the request: commits after the handler, before the response
    "api/auth_gate.py",  # the key lookup, in a read-only scope, before any body is read
    "api/group_commit.py",  # the requests' writes, one transaction per group, committed before answering
    "cli/",  # the CLI's session_scope per command
    "db/",  # defines session_scope / Database.scope
    "jobs/worker.py",  # the worker: one scope per job step
    "qa/pipeline.py",  # the QA flow: its steps (claim, slow docker run, store) are separate transactions
)
# Flows (work spanning transactions or slow steps) and task handlers (the worker's job steps: a handler
# settles its job in the transaction that stores its result) own their transactions too.
STEP_MODULES = ("flows.py", "tasks.py")
SQL_PLACES = ("db/",)
SQL_MODULE = "repository.py"
SQL_FUNCTIONS = frozenset({"select", "insert", "update", "delete", "text"})
WEB_FRAMEWORKS = frozenset({"fastapi", "starlette"})
WEB_PLACES = ("api/", "dashboard/auth.py")  # dashboard/auth.py: the dashboard's request dependencies
WEB_MODULE = "routes.py"
DOMAINS = frozenset({"api", "auth", "cli", "dashboard", "export", "qa", "repos", "sdk", "traces", "webhooks"})

# Modules allowed to break a rule, each with its reason. Empty now; an entry no longer needed fails
# test_allow_list_has_no_stale_entries, so any future exception cannot outlive its reason.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, order=True)
class Violation:
    module: str  # relative to the package root, POSIX
    rule: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: [{self.rule}] {self.what}"


def _within(module: str, places: tuple[str, ...]) -> bool:
    return any(module == place or (place.endswith("/") and module.startswith(place)) for place in places)


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


class _Checker(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.found: list[Violation] = []
        self.sql_names: set[str] = set()  # local names bound to sqlalchemy's select/insert/...
        self.sql_modules: set[str] = set()  # names bound to sqlalchemy itself (`import sqlalchemy as sa`)
        name = module.rsplit("/", 1)[-1]
        self.may_transact = _within(module, TRANSACTION_OWNERS) or name in STEP_MODULES
        self.may_sql = _within(module, SQL_PLACES) or name == SQL_MODULE
        self.may_web = _within(module, WEB_PLACES) or name == WEB_MODULE
        self.is_jobs = module.startswith("jobs/")

    def report(self, node: ast.AST, rule: str, what: str) -> None:
        self.found.append(Violation(self.module, rule, getattr(node, "lineno", 0), what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)
            if alias.name.split(".")[0] == "sqlalchemy":
                self.sql_modules.add(alias.asname or alias.name.split(".")[0])
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._imported(node, module)
        if module.split(".")[0] == "sqlalchemy":
            self.sql_names.update(a.asname or a.name for a in node.names if a.name in SQL_FUNCTIONS)
        if module == "bugtrail":  # `from bugtrail import qa`
            for alias in node.names:
                self._imported(node, f"bugtrail.{alias.name}")
        self.generic_visit(node)

    def _imported(self, node: ast.AST, module: str) -> None:
        parts = module.split(".")
        if parts[0] in WEB_FRAMEWORKS and not self.may_web:
            self.report(node, "fastapi", f"imports {module}")
        if self.is_jobs and parts[0] == "bugtrail" and len(parts) > 1 and parts[1] in DOMAINS:
            self.report(node, "jobs-imports-domain", f"imports {module}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "commit" and not self.may_transact:  # called, or handed to a thread pool
            self.report(node, "transaction", f"{_name_of(node.value) or '...'}.commit")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = _name_of(func)
        if not self.may_transact and (
            name == "session_scope" or (isinstance(func, ast.Attribute) and name == "scope")
        ):
            self.report(node, "transaction", f"opens a transaction with {name}()")
        if not self.may_sql:
            if isinstance(func, ast.Name) and name in self.sql_names:
                self.report(node, "sql", f"{name}(...)")
            elif (
                isinstance(func, ast.Attribute)
                and name in SQL_FUNCTIONS
                and _name_of(func.value) in self.sql_modules
            ):
                self.report(node, "sql", f"{_name_of(func.value)}.{name}(...)")
            elif name == "execute" and isinstance(func, ast.Attribute):
                receiver = _name_of(func.value)
                if receiver.endswith("session"):
                    self.report(node, "sql", f"{receiver}.execute(...)")
        self.generic_visit(node)


def check_tree(root: Path) -> list[Violation]:
    """Every rule violation in the package rooted at `root` (a directory named like the package)."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        checker = _Checker(module)
        checker.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(checker.found)
    return sorted(found)


def test_the_source_tree_keeps_the_rules() -> None:
    broken = [v for v in check_tree(SRC) if (v.module, v.rule) not in ALLOWED]
    assert not broken, "architecture rules broken (see ARCHITECTURE.md):\n" + "\n".join(map(str, broken))


def test_allow_list_has_no_stale_entries() -> None:
    still_needed = {(v.module, v.rule) for v in check_tree(SRC)}
    stale = sorted(set(ALLOWED) - still_needed)
    assert not stale, f"these modules keep the rule now; remove them from ALLOWED: {stale}"


# The checker itself: each violation in the fixture tree is reported, the same code in its place is not.
EXPECTED_IN_FIXTURE = {
    ("traces/service.py", "transaction"),  # session.commit() in a service
    ("export/service.py", "transaction"),  # database.scope() in a service
    ("webhooks/service.py", "transaction"),  # run_in_threadpool(session.commit)
    ("auth/keys.py", "sql"),  # select(...) outside a repository
    ("traces/events.py", "sql"),  # session.execute(...) outside a repository
    ("qa/grading.py", "sql"),  # sa.text(...) through `import sqlalchemy as sa`
    ("export/service.py", "fastapi"),  # from fastapi import HTTPException
    ("qa/service.py", "fastapi"),  # from starlette.concurrency import run_in_threadpool
    ("jobs/worker.py", "jobs-imports-domain"),  # from bugtrail.qa.pipeline import ...
    ("jobs/queue.py", "jobs-imports-domain"),  # from bugtrail import traces
}


def test_checker_reports_each_violation_in_the_fixture_tree() -> None:
    reported = {(v.module, v.rule) for v in check_tree(FIXTURE)}
    missed, false_alarms = EXPECTED_IN_FIXTURE - reported, reported - EXPECTED_IN_FIXTURE
    assert not missed and not false_alarms, f"missed: {sorted(missed)}; false alarms: {sorted(false_alarms)}"


@pytest.mark.parametrize(
    "module",
    ["auth/repository.py", "api/deps.py", "traces/routes.py", "jobs/repository.py", "db/engine.py"],
)
def test_checker_allows_the_same_code_in_its_place(module: str) -> None:
    assert (FIXTURE / module).exists()
    assert not [v for v in check_tree(FIXTURE) if v.module == module]
