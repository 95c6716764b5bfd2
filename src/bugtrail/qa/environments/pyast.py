"""Literal values from Python sources read with `ast` (setup.py, noxfile.py): never imported, never run."""

from __future__ import annotations

import ast
from typing import Any

MAX_SOURCE_BYTES = 512 * 1024


def parse_source(text: str) -> ast.Module | None:
    """The module's syntax tree, or None when it does not parse."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def module_assignments(module: ast.Module) -> dict[str, ast.expr]:
    """`NAME = <expr>` assignments anywhere in the module (the last one wins), for following names."""
    assigned: dict[str, ast.expr] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    return assigned


def call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def literal(node: ast.expr, assigned: dict[str, ast.expr] | None = None, depth: int = 0) -> Any:
    """A literal value, following module-level names and `list + list` (what setup.py files usually do)."""
    names = assigned or {}
    if depth > 20:
        return None
    if isinstance(node, ast.Name) and node.id in names:
        return literal(names[node.id], names, depth + 1)
    if isinstance(node, ast.Dict):
        out = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                return None
            out[literal(key, names, depth + 1)] = literal(value, names, depth + 1)
        return out
    if isinstance(node, ast.List | ast.Tuple):
        items = [literal(item, names, depth + 1) for item in node.elts]
        return None if any(item is None for item in items) else items
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = literal(node.left, names, depth + 1), literal(node.right, names, depth + 1)
        return left + right if isinstance(left, list) and isinstance(right, list) else None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
