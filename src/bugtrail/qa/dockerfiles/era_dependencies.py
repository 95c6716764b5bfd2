"""Reinstall an old checkout's runtime dependencies as they were at its date, when today's releases break it.

Package data of bugtrail, run by the generated install.sh after the project and the inferred packages, as
`python era_dependencies.py CUTOFF IMPORT...` (stdlib, and `packaging`, which pytest brings). A plan sets
it only for a base commit older than today's pytest major (plan.dependencies_as_of).

The project's declared runtime dependencies usually have no upper bound (`MarkupSafe>=0.23`), so a checkout
from years ago gets today's releases, and a release that removed an API the old code imports (MarkupSafe 2.1
dropped `soft_unicode`, which Jinja 2.10 imports) makes every test fail at import in both runs. The check is
the project's own top-level packages: when they all import, nothing happens. When one does not, the
distributions that provide them are read from the installed metadata, and their runtime requirements
(markers evaluated, extras left out) are reinstalled with `pip install --force-reinstall
--uploaded-prior-to CUTOFF`, then the check runs again. Test dependencies and pytest are not touched (pytest
has its own era bound). Every outcome is a build note (a line with the marker the host parses); a failed
reinstall leaves the environment as it was (pip builds everything before it installs), and one after which
the project still does not import is undone (the versions it changed are put back, without dependencies), so
the check never leaves an environment worse; it never fails the build: this script always exits 0.

With `--declared FILE` (the plan's requirement file), the declared test dependencies get the same check: an
old suite pins `Flask<2.0` in requirements-dev.txt, today's Jinja2 and MarkupSafe come underneath, and the
conftest's `import flask` fails in both runs. The top-level modules of each declared distribution (pytest and
py left out: pytest has its era bound) are imported; the runtime requirements of those that do not import are
reinstalled as of the cutoff with every declared distribution held at its installed version (a constraint
file), so what the repository chose stays and only what came underneath is rewound; undone when it does not
help, as above.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile

NOTE = "BUGTRAIL_BUILD_NOTE="
INSTALL_TIMEOUT_S = 600
IMPORT_TIMEOUT_S = 120
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CUTOFF = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_DECLARED = 40
NOT_CHECKED = {"pytest", "py", "pip", "setuptools", "wheel"}  # pytest has its own era bound


def import_error(modules: list[str]) -> str | None:
    """None when every module imports in a fresh interpreter (outside the checkout), else the error."""
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, *modules],
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
            check=False,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        return f"importing {' '.join(modules)} took over {IMPORT_TIMEOUT_S}s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"exit code {done.returncode}"


def runtime_requirements(distributions: list[str]) -> list[str]:
    """The distributions' own requirement lines that apply here without an extra (their markers evaluated)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pytest depends on packaging, so the runner venv has it; stay harmless otherwise
        return []
    own = {normalize(name) for name in distributions}
    lines: list[str] = []
    for distribution in distributions:
        try:
            declared = importlib.metadata.requires(distribution) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in declared:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.url or normalize(requirement.name) in own:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            requirement.marker = None
            text = str(requirement)
            if text not in lines:
                lines.append(text)
    return lines


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def providers(modules: list[str]) -> list[str]:
    """The installed distributions that provide these top-level modules (the project itself, editable)."""
    mapping = importlib.metadata.packages_distributions()
    found: list[str] = []
    for module in modules:
        for distribution in mapping.get(module, []):
            if distribution not in found:
                found.append(distribution)
    return found


def installed() -> dict[str, str]:
    """Every installed distribution's version, by normalized name."""
    importlib.invalidate_caches()
    return {
        normalize(dist.metadata["Name"] or ""): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }


def restore(before: dict[str, str]) -> list[str]:
    """Put back the versions the reinstall changed (no dependencies moved); the `name==version` lines."""
    now = installed()
    lines = [f"{name}=={version}" for name, version in sorted(before.items()) if now.get(name) != version]
    if lines:
        pip_install(["--no-deps", *lines])
    return lines


def pip_install(arguments: list[str]) -> tuple[bool, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(a for a in arguments if not a.startswith("-")) + "\n")
        listing.flush()
        options = [a for a in arguments if a.startswith("-")]
        command = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]
        command += [*options, "-r", listing.name]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {INSTALL_TIMEOUT_S}s"
    print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", flush=True)
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()]
        return False, (tail[-1] if tail else f"exit code {done.returncode}")[:200]
    done_lines = [line for line in done.stdout.splitlines() if line.startswith("Successfully installed")]
    return True, (done_lines[-1][len("Successfully installed ") :] if done_lines else "")[:200]


def reinstall(requirements: list[str], cutoff: str, hold: list[str] | None = None) -> tuple[bool, str]:
    """pip install --force-reinstall --uploaded-prior-to CUTOFF; `hold` (`name==version` lines) constrains."""
    if not hold:
        return pip_install(["--force-reinstall", f"--uploaded-prior-to={cutoff}", *requirements])
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        constraints.write("\n".join(hold) + "\n")
        constraints.flush()
        options = ["--force-reinstall", f"--uploaded-prior-to={cutoff}", f"--constraint={constraints.name}"]
        return pip_install([*options, *requirements])


def declared_names(path: str) -> list[str]:
    """The distributions a requirement file names (options, comments and URLs skipped), normalized."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return []
    names: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        name = normalize(requirement.name)
        if requirement.url is None and name not in NOT_CHECKED and name not in names:
            names.append(name)
    return names[:MAX_DECLARED]


def top_level_modules(distributions: list[str]) -> dict[str, list[str]]:
    """Each installed distribution's importable top-level modules (private and test-like ones left out)."""
    wanted = set(distributions)
    found: dict[str, list[str]] = {}
    for module, providing in importlib.metadata.packages_distributions().items():
        if not MODULE.match(module) or module.startswith("_") or module in ("tests", "test", "testing"):
            continue
        for distribution in providing:
            name = normalize(distribution)
            if name in wanted and module not in found.setdefault(name, []):
                found[name].append(module)
    return found


def failing_imports(modules: list[str]) -> dict[str, str]:
    """module -> error for the modules that do not import (each tried on its own, one fresh interpreter)."""
    code = (
        "import importlib, json, sys\nfailed = {}\nfor name in sys.argv[1:]:\n    try:\n"
        "        importlib.import_module(name)\n    except BaseException as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'[:200]\nprint(json.dumps(failed))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, *modules],
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
            check=False,
            cwd="/",
        )
        lines = done.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines else {}
    except (subprocess.TimeoutExpired, ValueError):
        return {}  # cannot tell: leave the environment as it is
    return {str(k): str(v) for k, v in result.items()} if isinstance(result, dict) else {}


def check_declared(path: str, cutoff: str) -> None:
    """The declared test dependencies that do not import get what they require as of the cutoff."""
    names = declared_names(path)
    modules_of = top_level_modules(names)
    modules = sorted({module for found in modules_of.values() for module in found})
    failed = failing_imports(modules) if modules else {}
    if not failed:
        print("era_dependencies: the declared test dependencies import with today's releases", flush=True)
        return
    broken = [name for name, found in modules_of.items() if any(module in failed for module in found)]
    first = next(iter(failed.items()))
    error = f"{first[0]}: {first[1]}"
    declared = set(names)
    requirements = [
        line for line in runtime_requirements(broken) if normalize(requirement_name(line)) not in declared
    ]
    if not requirements:
        print(
            f"{NOTE}declared test dependencies do not import ({error}) and require nothing else", flush=True
        )
        return
    print(f"== bugtrail: declared test dependencies do not import ({error}); as of {cutoff}", flush=True)
    before = installed()
    hold = [f"{name}=={before[name]}" for name in names if name in before]
    ok, detail = reinstall(requirements, cutoff, hold)
    if not ok:
        note = f"test dependencies' requirements as of {cutoff} did not install ({detail}); today's kept"
        print(f"{NOTE}{note}; with today's releases: {error}", flush=True)
        return
    after = failing_imports(sorted(failed))
    if not after:
        note = f"test dependencies' requirements as of {cutoff} ({detail}): {', '.join(broken)} import now"
    else:
        restored = ", ".join(restore(before))[:100]
        still = next(iter(after.items()))
        note = (
            f"test dependencies' requirements as of {cutoff} did not help ({still[0]}: {still[1]}); "
            f"today's put back ({restored})"
        )
    print(f"{NOTE}{note[:300]}; with today's releases: {error}", flush=True)


def requirement_name(line: str) -> str:
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return match.group(1) if match else line


def main(argv: list[str]) -> int:
    declared: str | None = None
    if len(argv) >= 2 and argv[0] == "--declared":
        declared, argv = argv[1], argv[2:]
    if len(argv) < 2 or not CUTOFF.match(argv[0]):
        print(
            "era_dependencies: usage: era_dependencies.py [--declared FILE] YYYY-MM-DDTHH:MM:SSZ MODULE...",
            flush=True,
        )
        return 0
    cutoff = argv[0]
    check_project(cutoff, [m for m in argv[1:] if MODULE.match(m)])
    if declared:
        check_declared(declared, cutoff)
    return 0


def check_project(cutoff: str, modules: list[str]) -> None:
    error = import_error(modules) if modules else None
    if error is None:
        print(
            f"era_dependencies: {' '.join(modules)} import with today's releases; nothing to do", flush=True
        )
        return
    requirements = runtime_requirements(providers(modules))
    if not requirements:
        print(f"{NOTE}the project does not import ({error}) and declares no runtime dependency", flush=True)
        return
    print(f"== bugtrail: the project does not import ({error}); its dependencies as of {cutoff}", flush=True)
    before = installed()
    ok, detail = reinstall(requirements, cutoff)
    if not ok:
        note = f"runtime dependencies as of {cutoff} did not install ({detail}); today's kept"
        print(f"{NOTE}{note}; with today's releases: {error}", flush=True)
        return
    after = import_error(modules)
    if after is None:
        note = f"runtime dependencies as of {cutoff} ({detail}): the project imports now"
    else:  # the old releases did not help: today's are put back, nothing is left worse
        restored = ", ".join(restore(before))[:100]
        note = f"runtime dependencies as of {cutoff} did not help ({after}); today's put back ({restored})"
    print(f"{NOTE}{note}; with today's releases: {error}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
