"""Whether a recorded command ran tests: the trace's own test command, or a known test runner.

A command line is split into its `&&`/`||`/`;`/`|` parts; in each, environment assignments and wrappers
(`sudo`, `time`, `uv run`, `poetry run`, `python -m`, `npx`, ...) are skipped and the program that is
left is compared with the runners below. Pure and bounded: a huge command line is judged on its head.
"""

from __future__ import annotations

import re
import shlex

MAX_COMMAND_CHARS = 10_000
_SPLIT = re.compile(r"&&|\|\||[;|\n]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SCRIPT = re.compile(r"^(run_?tests?|runtests|tests?)(\.(sh|py|bash))?$")

# Programs that are test runners whatever their arguments.
RUNNERS = frozenset(
    {
        "pytest", "py.test", "tox", "nox", "nosetests", "nose2", "trial", "behave", "ward",
        "jest", "vitest", "mocha", "ava", "karma", "jasmine", "playwright", "cypress",
        "rspec", "phpunit", "pest", "ctest", "prove", "busted", "bats", "kaocha",
    }
)  # fmt: skip
# Programs whose sub-command runs tests (`go test`, `cargo test`, `npm test`, `make check`, ...).
SUBCOMMANDS: dict[str, frozenset[str]] = {
    "go": frozenset({"test"}),
    "cargo": frozenset({"test", "nextest"}),
    "npm": frozenset({"test", "t", "tst"}),
    "yarn": frozenset({"test"}),
    "pnpm": frozenset({"test", "t"}),
    "bun": frozenset({"test"}),
    "deno": frozenset({"test"}),
    "mvn": frozenset({"test", "verify"}),
    "mvnw": frozenset({"test", "verify"}),
    "gradle": frozenset({"test", "check"}),
    "gradlew": frozenset({"test", "check"}),
    "make": frozenset({"test", "tests", "check"}),
    "dotnet": frozenset({"test"}),
    "mix": frozenset({"test"}),
    "swift": frozenset({"test"}),
    "bazel": frozenset({"test"}),
    "zig": frozenset({"test"}),
    "stack": frozenset({"test"}),
    "cabal": frozenset({"test"}),
    "lein": frozenset({"test"}),
    "sbt": frozenset({"test"}),
    "rake": frozenset({"test", "spec"}),
}
PYTHON_TEST_MODULES = frozenset({"pytest", "unittest", "nose", "nose2", "tox", "nox", "trial"})
_WRAPPERS = frozenset({"sudo", "time", "env", "nice", "exec", "command", "xvfb-run", "stdbuf", "nohup"})
_RUN_WRAPPERS = {  # `tool run X ...`: the command is X
    "uv": "run", "poetry": "run", "pipenv": "run", "hatch": "run", "pdm": "run", "rye": "run",
    "conda": "run", "bundle": "exec", "pixi": "run",
}  # fmt: skip
_PACKAGE_RUNNERS = frozenset({"npx", "bunx", "pnpx", "uvx"})
_SCRIPT_RUNNERS = frozenset({"npm", "yarn", "pnpm", "bun"})  # `npm run test:unit`


def _words(part: str) -> list[str]:
    try:
        return shlex.split(part)
    except ValueError:  # unbalanced quotes: judge the plain words
        return part.split()


def _program(words: list[str]) -> list[str]:
    """The words from the program that really runs, wrappers and assignments skipped."""
    i = 0
    while i < len(words):
        word = words[i]
        name = word.rsplit("/", 1)[-1]
        if _ASSIGNMENT.match(word) or name in _WRAPPERS or name in _PACKAGE_RUNNERS or word.startswith("-"):
            i += 1
        elif name in _RUN_WRAPPERS and i + 1 < len(words) and words[i + 1] == _RUN_WRAPPERS[name]:
            i += 2
        elif name == "timeout":  # `timeout [options] DURATION command`
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1
            i += 1
        elif re.match(r"^python(\d(\.\d+)?)?$", name) and i + 2 < len(words) and words[i + 1] == "-m":
            return [words[i + 2], *words[i + 3 :]]
        else:
            return words[i:]
    return []


def _runs_tests(words: list[str]) -> bool:
    if not words:
        return False
    name = words[0].rsplit("/", 1)[-1]
    rest = [word for word in words[1:] if not word.startswith("-")]
    if name in RUNNERS or name in PYTHON_TEST_MODULES or _SCRIPT.match(name):
        return True
    if name in SUBCOMMANDS and rest and rest[0] in SUBCOMMANDS[name]:
        return True
    if name in _SCRIPT_RUNNERS and len(rest) >= 2 and rest[0] == "run" and rest[1].startswith("test"):
        return True
    if name in ("yarn", "pnpm") and rest and rest[0].startswith("test"):
        return True
    if name == "manage.py" and rest[:1] == ["test"]:
        return True
    if re.match(r"^python(\d(\.\d+)?)?$", name) and rest:
        script = rest[0].rsplit("/", 1)[-1]
        return bool(_SCRIPT.match(script)) or (script in ("manage.py", "setup.py") and rest[1:2] == ["test"])
    return False


def _normalised(command: str) -> str:
    return " ".join(command.split())


def is_test_run(command: str, test_command: str | None = None) -> bool:
    """True when `command` runs the trace's test command (possibly with more arguments) or a test runner."""
    command = command[:MAX_COMMAND_CHARS]
    if test_command:
        wanted = _normalised(test_command[:MAX_COMMAND_CHARS])
        given = _normalised(command)
        if wanted and (given == wanted or given.startswith(wanted + " ")):
            return True
    return any(_runs_tests(_program(_words(part))) for part in _SPLIT.split(command) if part.strip())
