"""Install inferred test needs inside an environment build, after the declared packages and the project.

Package data of bugtrail, run by the generated install.sh as `python install_inferred.py inferred.json`
(stdlib only). One distribution at a time, and only when its module is still not importable, so a package
the declared install provides is never reinstalled. Everything already installed is pinned as a constraint,
so an inferred package never moves a declared one. A wrong guess (no such distribution, a conflict) is a
line in the log, never a failed build: this script always exits 0. The last line is a marker the host
parses: BUGTRAIL_INFERRED={"installed": [...], "present": [...], "failed": [...]}.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
import tempfile

MARKER = "BUGTRAIL_INFERRED="
INSTALL_TIMEOUT_S = 300
MAX_ENTRIES = 40
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;@]+$")


def importable(module: str) -> bool:
    importlib.invalidate_caches()
    try:
        return importlib.util.find_spec(module) is not None
    except Exception:  # a parent package that fails to import, a broken install: not importable
        return False


def constraints() -> str:
    """What is installed now, as `name==version` lines (editable and direct-URL installs left out)."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "\n".join(line for line in frozen.stdout.splitlines() if PINNED.match(line.strip())) + "\n"


def install(distribution: str) -> tuple[bool, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as pins:
        pins.write(constraints())
        pins.flush()
        command = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]
        try:
            done = subprocess.run(
                [*command, "-c", pins.name, distribution],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {INSTALL_TIMEOUT_S}s"
    output = (done.stdout + done.stderr).strip().splitlines()
    errors = [line for line in output if line.startswith("ERROR")]
    reason = errors[-1] if errors else (output[-1] if output else "")
    return done.returncode == 0, reason[:300]


def main(path: str) -> dict[str, list[str]]:
    report: dict[str, list[str]] = {"installed": [], "present": [], "failed": []}
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    for entry in entries[:MAX_ENTRIES] if isinstance(entries, list) else []:
        module, distribution = str(entry.get("module", "")), str(entry.get("distribution", ""))
        if not MODULE.match(module) or not DISTRIBUTION.match(distribution):
            print(f"== bugtrail inferred: {distribution!r} ({module!r}) is not a valid name; skipped")
            report["failed"].append(distribution[:100])
            continue
        if importable(module):
            print(f"== bugtrail inferred: {module} is already importable; {distribution} not installed")
            report["present"].append(distribution)
            continue
        print(f"== bugtrail inferred: pip install {distribution} (for {module})", flush=True)
        ok, reason = install(distribution)
        if ok and importable(module):
            report["installed"].append(distribution)
        elif ok:
            print(f"== bugtrail inferred: {distribution} installed, but {module} is still not importable")
            report["failed"].append(distribution)
        else:
            print(f"== bugtrail inferred: {distribution} could not be installed: {reason}")
            report["failed"].append(distribution)
    return report


if __name__ == "__main__":
    try:
        result = main(sys.argv[1])
    except Exception as exc:  # never the reason a build fails
        print(f"== bugtrail inferred: step failed: {exc!r}")
        result = {"installed": [], "present": [], "failed": []}
    print(MARKER + json.dumps(result), flush=True)
