"""A patch as a multiset of normalised changed lines, and how alike two such patches are (pure).

Used to compare a trace's final patch with later upstream commits (qa.upstream) and with earlier traces
(qa.duplicates). Only changed lines count (context is ignored), whitespace is collapsed and blank lines are
dropped, so reformatting alone does not make two fixes different; a fix written with other names or on other
lines shares few lines and stays apart. Everything is bounded: a hostile diff costs at most MAX_LINES lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

MAX_LINES = 20_000  # changed lines kept per patch
MAX_LINE_CHARS = 500  # a longer line is compared by its first characters
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_SPACE = re.compile(r"\s+")

ChangedLine = tuple[str, str, str]  # (file, "+" | "-", normalised text)
ChangedLines = Counter[ChangedLine]


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text[:MAX_LINE_CHARS]).strip()


def diff_lines(diff: str, file: str | None = None) -> Iterable[tuple[str, str, str]]:
    """(file, sign, text) of each changed line of a unified diff; hunk line counts decide what is a
    header, so a removed line that starts with "--" is still a removed line. `file` names the file of a
    single-file diff (a trace edit); otherwise the `+++ b/<path>` (or `--- a/<path>`) header does."""
    current = file or ""
    old_left = new_left = 0
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            sign = line[:1]
            if sign == "-" and old_left > 0:
                old_left -= 1
                yield current, "-", line[1:]
                continue
            if sign == "+" and new_left > 0:
                new_left -= 1
                yield current, "+", line[1:]
                continue
            if sign == " ":
                old_left, new_left = old_left - 1, new_left - 1
                continue
            if sign == "\\":  # "\ No newline at end of file"
                continue
            old_left = new_left = 0  # a malformed hunk ends here; read the line as a header
        found = _HUNK.match(line)
        if found:
            old_left = int(found.group(1)) if found.group(1) is not None else 1
            new_left = int(found.group(2)) if found.group(2) is not None else 1
        elif file is None and line.startswith("+++ "):
            path = line[4:].split("\t", 1)[0]
            if path != "/dev/null":
                current = path[2:] if path.startswith("b/") else path
        elif file is None and line.startswith("--- "):
            path = line[4:].split("\t", 1)[0]
            if path != "/dev/null":
                current = path[2:] if path.startswith("a/") else path


def add_diff(net: ChangedLines, diff: str, file: str | None = None) -> None:
    """Add one diff's changed lines to `net`; a line one diff adds and a later one removes cancels out,
    so the sum of a trace's edits is its net change against base_commit."""
    size = net.total()
    for path, sign, raw in diff_lines(diff, file):
        if size >= MAX_LINES:
            return
        text = normalise(raw)
        if not text:
            continue
        opposite = (path, "+" if sign == "-" else "-", text)
        if net[opposite] > 0:
            net[opposite] -= 1
            size -= 1
            if not net[opposite]:
                del net[opposite]
        else:
            net[(path, sign, text)] += 1
            size += 1


def trace_patch(edits: Iterable[Mapping[str, Any]]) -> ChangedLines:
    """The net changed lines of a trace's edit events' details (`file`, `diff`), in event order."""
    net: ChangedLines = Counter()
    for details in edits:
        diff, file = details.get("diff"), details.get("file")
        if isinstance(diff, str) and isinstance(file, str):
            add_diff(net, diff, file)
    return net


def files_of(lines: ChangedLines) -> set[str]:
    return {path for path, _, _ in lines}


def restricted(lines: ChangedLines, files: set[str]) -> ChangedLines:
    return Counter({key: count for key, count in lines.items() if key[0] in files})


def similarity(a: ChangedLines, b: ChangedLines) -> float:
    """Dice coefficient of the two multisets: 1.0 for the same changed lines, 0.0 for none in common."""
    total = a.total() + b.total()
    if total == 0:
        return 0.0
    return 2 * (a & b).total() / total
