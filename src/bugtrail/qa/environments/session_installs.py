"""Packages the developer installed during the session: `pip install X` commands the trace recorded.

The recorded environment is captured at `bugtrail start`; a package installed while debugging (often the very
one the tests needed) is only in the command history. Pure: reads command events (hostile input), runs
nothing. Only commands that exited 0 count, in order (a later `pip uninstall` takes a package back out). What
is kept is judged like any developer-supplied requirement: index names and pins, https URLs to public host
names; options, files (`-r`), local paths and editable installs are not followed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from bugtrail.qa.environments.requirements import judge_developer_line, requirement_name

MAX_COMMANDS = 5000
MAX_COMMAND_CHARS = 4000
MAX_PACKAGES = 100
_OPERATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")"}
# pip/uv options that take a value: the value is not a requirement.
_VALUE_OPTIONS = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--python",
    "-p",
    "--src",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--only-binary",
    "--no-binary",
    "--progress-bar",
    "--log",
    "--cache-dir",
    "--trusted-host",
    "--proxy",
    "--timeout",
    "--retries",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--config-settings",
    "-C",
    "--global-option",
    "--group",
    "--extra",
}
_PYTHON = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)?)?$")
_PIP = re.compile(r"^(?:.*/)?pip(?:\d+(?:\.\d+)?)?$")


def session_installs(events: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """(requirement lines installed during the session and still installed at its end, notes)."""
    installed: dict[str, str] = {}
    notes: list[str] = []
    for count, details in enumerate(events):
        if count >= MAX_COMMANDS:
            notes.append(f"session installs: only the first {MAX_COMMANDS} commands were read")
            break
        command = details.get("command")
        if not isinstance(command, str) or details.get("exit_code") != 0:
            continue
        for verb, args in _pip_calls(command[:MAX_COMMAND_CHARS]):
            for spec in _requirements(args):
                name = requirement_name(spec)
                if name is None:
                    continue
                if verb == "uninstall":
                    installed.pop(name, None)
                    continue
                kept, why = judge_developer_line(spec)
                if kept is None:
                    notes.append(f"session install {spec[:80]!r} not used: {why}")
                    continue
                if len(installed) < MAX_PACKAGES or name in installed:
                    installed[name] = kept
    return list(installed.values()), notes


def _pip_calls(command: str) -> list[tuple[str, list[str]]]:
    """Each `pip install|uninstall ...` in a command line (also `python -m pip`, `uv pip`, after `&&`/`;`)."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: not a command we can read
        return []
    calls: list[tuple[str, list[str]]] = []
    simple: list[str] = []
    for token in [*tokens, ";"]:
        if token not in _OPERATORS:
            simple.append(token)
            continue
        call = _pip_call(simple)
        if call:
            calls.append(call)
        simple = []
    return calls


def _pip_call(words: list[str]) -> tuple[str, list[str]] | None:
    while words and (("=" in words[0] and not words[0].startswith("-")) or words[0] in ("sudo", "env")):
        words = words[1:]  # VAR=value prefixes, sudo, env
    rest: list[str] | None = None
    if len(words) >= 3 and _PYTHON.match(words[0]) and words[1] == "-m" and words[2] == "pip":
        rest = words[3:]
    elif words and _PIP.match(words[0]):
        rest = words[1:]
    elif len(words) >= 2 and words[0] == "uv" and words[1] == "pip":
        rest = words[2:]
    if not rest:
        return None
    rest = [w for w in rest if w not in ("-q", "--quiet", "-v", "--verbose")]
    if rest and rest[0] in ("install", "uninstall"):
        return rest[0], rest[1:]
    return None


def _requirements(args: list[str]) -> list[str]:
    specs: list[str] = []
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-"):
            skip_next = arg in _VALUE_OPTIONS
            continue
        try:
            Requirement(arg)
        except InvalidRequirement:
            continue  # a path, a URL without a name, a wheel file
        specs.append(arg)
    return specs
