"""Build one environment image: context = `git archive` of base_commit + generated files; `docker build` with
network (host) and no mounts, under a wall-clock timeout; full log to a file, its tail for the QA result.

The repository's own install code runs here, so it runs inside the build container only, never on the host.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import subprocess
import tarfile
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from bugtrail.config import Settings
from bugtrail.errors import Unavailable
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.environments.pytest_era import MAJOR_RELEASES, bounded_pytest
from bugtrail.qa.environments.schemas import EnvironmentPlan
from bugtrail.qa.image import DOCKERFILES, add_bytes, dockerfile_text, host_ca_bundle
from bugtrail.qa.workspace import git

MAX_LOG_BYTES = 16 * 1024 * 1024
GIT_ARCHIVE_TIMEOUT_S = 600.0
TAIL_LINES = 60
TAIL_CHARS = 8000
PYTHON_MARKER = "BUGTRAIL_PYTHON_VERSION="
INFERRED_MARKER = "BUGTRAIL_INFERRED="  # the last line of install_inferred.py: what it installed
LABEL_OUTCOME = "bugtrail.env.outcome"  # the build log's findings, stamped on the image (stamp_outcome)
NOTE_MARKER = "BUGTRAIL_BUILD_NOTE="  # a fallback the install took: kept with the image, shown in the result
MAX_NOTES, MAX_NOTE_CHARS = 20, 300
# A test file outside the checkout: does the installed pytest run at all on this Python (an old pin may not)?
PYTEST_SMOKE = (
    "pytest_runs() { mkdir -p /tmp/bugtrail-smoke "
    "&& printf 'def test_ok():\\n    assert True\\n' > /tmp/bugtrail-smoke/test_smoke.py "
    "&& (cd /tmp/bugtrail-smoke && python -m pytest -q -p no:cacheprovider test_smoke.py >/dev/null 2>&1); }"
)
# What moves with pytest when it has to be upgraded, printed on one line: the plugins installed from an
# index (a `pytest11` entry point and a requirement on pytest outside any extra: anyio or hypothesis register
# one too but are libraries first; no direct_url.json: not the checkout, not a URL), and `py` when installed
# (pytest >= 7.2 no longer needs it but imports it when present; a py of the pytest 2-4 era fails on 3.11).
PYTEST_COMPANIONS = (
    "import importlib.metadata as m, re\n"
    "names = set()\n"
    "for d in m.distributions():\n"
    "    name = d.metadata['Name'] or ''\n"
    "    wants = [r for r in d.requires or [] if 'extra' not in r]\n"
    "    needs = {re.split(r'[^A-Za-z0-9._-]', r, 1)[0].lower() for r in wants}\n"
    "    plugin = any(e.group == 'pytest11' for e in d.entry_points) and 'pytest' in needs\n"
    "    if (plugin or name.lower() == 'py') and not d.read_text('direct_url.json'):\n"
    "        if re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._-]*', name):\n"
    "            names.add(name)\n"
    "print(' '.join(sorted(names)))\n"
)
# Files a build leaves in the checkout that tests do not need back (bytecode, build dirs).
GENERATED_EXCLUDE = r"(/__pycache__/|\.pyc$|^\./build/|^\./\.eggs/|^\./dist/)"


class EnvBuildError(Exception):
    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail


@dataclass
class BuildOutcome:
    image_id: str
    seconds: float
    python_version: str | None
    notes: list[str]
    inferred: dict[str, list[str]] | None = None  # installed / present / failed, from the build log


def relaxed_requirements(packages: list[str]) -> list[str]:
    """The plan's requirement lines without version specifiers (names, extras, markers and URLs kept).

    Old pins are the usual reason a declared set does not install on today's Python; retrying without them
    keeps every package (a name that does not exist still fails the build) and the result says so.
    """
    relaxed = []
    for line in packages:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            relaxed.append(line)
            continue
        if requirement.url or not requirement.specifier:
            relaxed.append(line)
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        marker = f"; {requirement.marker}" if requirement.marker else ""
        relaxed.append(f"{requirement.name}{extras}{marker}")
    return relaxed


def relaxed_plan_requirements(plan: EnvironmentPlan) -> list[str]:
    """The retry's lines: the plan's without version pins, but pytest still kept to the commit's era."""
    relaxed = relaxed_requirements(plan.packages)
    if plan.pytest_below is not None:
        relaxed, _ = bounded_pytest(relaxed, plan.pytest_below)
    return relaxed


COMPILER_PACKAGES = "gcc g++ libc6-dev python3-dev"  # Debian's, for the venv's own (the system) Python
COMPILER_NOTE = "a compiler and the Python headers installed: the project builds C/C++/Cython extensions"
NO_COMPILER_NOTE = "the project builds C/C++/Cython extensions, but apt-get could not install a compiler"


def upgrade_steps(below: int | None) -> list[str]:
    """The pytest requirements tried in turn when the installed pytest does not run: each major after the
    commit's era, then today's."""
    newest = MAJOR_RELEASES[-1][0]
    start = below + 1 if below is not None else newest + 1
    return [f"pytest<{bound}" for bound in range(start, newest + 1)] + ["pytest"]


def _note(text: str) -> str:
    return f"echo {shlex.quote(NOTE_MARKER + text)}"


def install_script(plan: EnvironmentPlan) -> str:
    """install.sh: commands, packages, the project (editable at /workspace/repo), then the generated files."""
    lines = [
        "#!/bin/sh",
        "# Generated by bugtrail: runs inside the environment build container only.",
        "set -eu",
        "cd /workspace/repo",
        "listing() { find . -path ./.git -prune -o \\( -type f -o -type l \\) -print | LC_ALL=C sort; }",
        "listing > /opt/bugtrail/env/files-before.txt",
    ]
    if plan.native_sources:
        # The runner image has no compiler: a setup.py that builds C extensions fails (or falls back to a pure
        # Python build that hides a fix in the C code). Debian's, for the venv's own Python.
        lines += [
            "echo '== bugtrail: apt-get install gcc g++ python3-dev (the project builds C extensions)'",
            "if apt-get update -q >/dev/null \\",
            f"    && apt-get install -y -q --no-install-recommends {COMPILER_PACKAGES} >/dev/null; then",
            "    " + _note(COMPILER_NOTE),
            "else",
            # Not fatal: a setup.py with a pure-Python fallback still installs; one without fails below.
            "    " + _note(NO_COMPILER_NOTE),
            "fi",
            "apt-get clean && rm -rf /var/lib/apt/lists/*",
        ]
    for command in plan.commands:
        lines.append(f"echo {shlex.quote('== bugtrail: ' + command[:200])}")
        lines.append(f"sh -c {shlex.quote(command)}")
    if plan.packages:
        lines.append("echo '== bugtrail: pip install -r requirements.txt'")
        if relaxed_plan_requirements(plan) != plan.packages:
            lines += [
                "if ! pip install -r /opt/bugtrail/env/requirements.txt; then",
                "    echo '== bugtrail: the pinned versions did not install; retrying without version pins'",
                "    pip install -r /opt/bugtrail/env/requirements-relaxed.txt",
                "    " + _note("version pins relaxed: the declared versions did not install on this Python"),
                "fi",
            ]
        else:
            lines.append("pip install -r /opt/bugtrail/env/requirements.txt")
    if plan.install_project:
        lines.append("echo '== bugtrail: pip install -e /workspace/repo'")
        lines.append("pip install -e /workspace/repo")
    if plan.inferred:
        lines.append("echo '== bugtrail: inferred packages (installed only where still missing)'")
        lines.append("python /opt/bugtrail/env/install_inferred.py /opt/bugtrail/env/inferred.json")
    if plan.install_project and plan.dependencies_as_of and plan.project_imports:
        lines.append("echo " + shlex.quote("== bugtrail: does the project import with today's dependencies?"))
        check = ["python", "/opt/bugtrail/env/era_dependencies.py"]
        if plan.packages:  # the declared test dependencies are checked too
            check += ["--declared", "/opt/bugtrail/env/requirements.txt"]
        check += [plan.dependencies_as_of, *plan.project_imports]
        lines.append(" ".join(shlex.quote(part) for part in check))
    lines += [
        PYTEST_SMOKE,
        "if ! pytest_runs; then",
        # Too old for this Python, or held back by an old pin (py 1.4), or a plugin whose metadata allows this
        # pytest but whose code needs a newer one (pytest-aiohttp 1.x with pytest 6): upgraded as one set.
        f"    also=$(python -c {shlex.quote(PYTEST_COMPANIONS)} 2>/dev/null || true)",
        '    echo "== bugtrail: the installed pytest does not run here; upgrading it with: $also"',
        # One major at a time from the commit's era: today's pytest may have dropped what an old plugin
        # still uses (pytest-flake8 with pytest 9), while the next major runs it. A companion that will not
        # upgrade leaves pytest upgraded alone.
        f"    for spec in {' '.join(shlex.quote(spec) for spec in upgrade_steps(plan.pytest_below))}; do",
        '        pip install -U "$spec" $also || pip install -U "$spec" || continue',
        "        if pytest_runs; then break; fi",
        "    done",
        '    echo "' + NOTE_MARKER + "pytest upgraded (with: ${also:-nothing else}): "
        'the installed version did not run here; now $spec"',
        "fi",
        "rm -rf /tmp/bugtrail-smoke",
    ]
    lines += [
        "listing > /opt/bugtrail/env/files-after.txt",
        "LC_ALL=C comm -13 /opt/bugtrail/env/files-before.txt /opt/bugtrail/env/files-after.txt \\",
        f"    | grep -Ev {shlex.quote(GENERATED_EXCLUDE)} > /opt/bugtrail/env/generated.txt || true",
        "if [ -s /opt/bugtrail/env/generated.txt ]; then",
        "    tar -cf /opt/bugtrail/env/generated.tar -T /opt/bugtrail/env/generated.txt",
        "    echo '== bugtrail: files generated in the checkout (restored at test time):'",
        "    head -n 50 /opt/bugtrail/env/generated.txt",
        "fi",
    ]
    if plan.native_sources:
        # entry.sh checks the mounted work tree's extension sources against these; rebuilds if they differ.
        sources = " ".join(shlex.quote(path) for path in plan.native_sources)
        lines.append(f"sha256sum -- {sources} > /opt/bugtrail/env/native-sources.sha256 || true")
    lines += [
        "chmod -R a+rX /opt/bugtrail/env",
        # Outside the checkout: in it, pytest reads the repository's ini and conftest.py, and a conftest that
        # cannot import (an old project on today's releases) under `filterwarnings = error` would fail the
        # whole build as "the install failed"; the test run reports that import error itself.
        "(cd / && python -m pytest --version)",
        f"python -c 'import platform; print(\"{PYTHON_MARKER}\" + platform.python_version())'",
    ]
    return "\n".join(lines) + "\n"


def pretend_version(mirror: Path, commit: str) -> str:
    """The nearest tag as a PEP 440 version (the archive has no .git for setuptools_scm), else 0.0.0."""
    result = git(["--git-dir", str(mirror), "describe", "--tags", "--abbrev=0", commit])
    tag = result.stdout.strip().lstrip("vV") if result.returncode == 0 else ""
    try:
        return str(Version(tag)) if tag else "0.0.0"
    except InvalidVersion:
        return "0.0.0"


def make_context(
    settings: Settings, plan: EnvironmentPlan, mirror: Path, commit: str, target: BinaryIO
) -> None:
    """Write the build context tar to `target`: repo/ from git archive, then bugtrail/ and the Dockerfile."""
    with subprocess.Popen(
        ["git", "--git-dir", str(mirror), "archive", "--format=tar", "--prefix=repo/", commit],
        stdout=target,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            _, stderr = proc.communicate(timeout=GIT_ARCHIVE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise EnvBuildError(f"git archive of {commit} took over {GIT_ARCHIVE_TIMEOUT_S:.0f}s") from exc
    if proc.returncode != 0:
        raise EnvBuildError(f"git archive of {commit} failed", stderr.decode(errors="replace")[-2000:])
    target.flush()
    target.seek(0)
    ca_bundle = host_ca_bundle(settings)
    with tarfile.open(fileobj=target, mode="a") as tar:
        add_bytes(tar, "Dockerfile", dockerfile_text("env.Dockerfile").encode())
        add_bytes(tar, "bugtrail/requirements.txt", ("\n".join(plan.packages) + "\n").encode())
        relaxed = "\n".join(relaxed_plan_requirements(plan)) + "\n"
        add_bytes(tar, "bugtrail/requirements-relaxed.txt", relaxed.encode())
        add_bytes(tar, "bugtrail/install.sh", install_script(plan).encode(), 0o755)
        add_bytes(tar, "bugtrail/entry.sh", (DOCKERFILES / "entry.sh").read_bytes(), 0o755)
        if plan.inferred:
            inferred = [p.model_dump(include={"module", "distribution"}) for p in plan.inferred]
            add_bytes(tar, "bugtrail/inferred.json", json.dumps(inferred).encode())
            add_bytes(tar, "bugtrail/install_inferred.py", (DOCKERFILES / "install_inferred.py").read_bytes())
        if plan.install_project and plan.dependencies_as_of and plan.project_imports:
            add_bytes(tar, "bugtrail/era_dependencies.py", (DOCKERFILES / "era_dependencies.py").read_bytes())
        add_bytes(tar, "bugtrail/extra-ca.crt", ca_bundle.read_bytes() if ca_bundle else b"")
        add_bytes(tar, "bugtrail/pretend-version", pretend_version(mirror, commit).encode())
    target.seek(0)


class BuildLog:
    """The full log to a file (capped), and a tail kept in memory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = path.open("w", encoding="utf-8", errors="replace")
        self.written = 0
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.python_version: str | None = None
        self.inferred: dict[str, list[str]] | None = None
        self.notes: list[str] = []

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self.lines.append(line)
            if line.startswith(PYTHON_MARKER):
                self.python_version = line[len(PYTHON_MARKER) :].strip()
            elif line.startswith(INFERRED_MARKER):
                self.inferred = inferred_report(line[len(INFERRED_MARKER) :])
            elif line.startswith(NOTE_MARKER) and len(self.notes) < MAX_NOTES:
                note = line[len(NOTE_MARKER) :].strip()[:MAX_NOTE_CHARS]
                if note and note not in self.notes:
                    self.notes.append(note)
        if self.written < MAX_LOG_BYTES:
            self.handle.write(text)
            self.written += len(text)
            if self.written >= MAX_LOG_BYTES:
                self.handle.write("\n[bugtrail: log truncated here]\n")

    def tail(self) -> str:
        return "\n".join(self.lines)[-TAIL_CHARS:]

    def close(self) -> None:
        self.handle.close()


def inferred_report(text: str) -> dict[str, list[str]] | None:
    """The marker's JSON, checked: the build log is written by the repository's code, so it is not trusted."""
    try:
        data = json.loads(text[:20_000])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {
        key: [str(item)[:100] for item in data.get(key, [])[:50] if isinstance(item, str)]
        for key in ("installed", "present", "failed")
        if isinstance(data.get(key, []), list)
    }


def outcome_label(outcome: BuildOutcome) -> str:
    return json.dumps(
        {
            "python_version": outcome.python_version,
            "build_s": outcome.seconds,
            "notes": outcome.notes,
            "inferred": outcome.inferred,
        }
    )


def read_outcome_label(labels: dict[str, str] | None) -> dict[str, Any]:
    """What a stamped image says of its build ({} for an image without the label or with a broken one)."""
    try:
        found = json.loads((labels or {}).get(LABEL_OUTCOME, "{}"))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def stamp_outcome(settings: Settings, outcome: BuildOutcome, labels: dict[str, str], log: BuildLog) -> str:
    """The built image once more with what the build log said (notes, Python, inferred) as a label: a config
    change, no layer. A worker that pulls it from the registry, or finds it without this worker's cache index,
    then reports the same build notes. Best effort: on a Docker error the unstamped image is used."""
    import io

    import docker.errors

    stamped = {**labels, LABEL_OUTCOME: outcome_label(outcome)}
    try:
        with contextlib.closing(docker_client(settings)) as client:
            image, _ = client.images.build(
                fileobj=io.BytesIO(f"FROM {outcome.image_id}\n".encode()),
                labels=stamped,
                network_mode="none",
                rm=True,
                forcerm=True,
            )
        return str(image.id)
    except (docker.errors.DockerException, Unavailable) as exc:
        log.write(f"\n[bugtrail] the build outcome could not be stamped on the image: {exc}\n")
        return outcome.image_id


def build_image(
    settings: Settings,
    plan: EnvironmentPlan,
    *,
    mirror: Path,
    commit: str,
    labels: dict[str, str],
    log_path: Path,
) -> BuildOutcome:
    """Build (untagged) and return the image id; EnvBuildError with the log tail on any failure or timeout."""
    started = time.monotonic()
    deadline = started + settings.env_build_timeout_s
    log = BuildLog(log_path)
    work_dir = settings.data_dir.resolve() / "env-cache" / "tmp"
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=work_dir) as context:
            make_context(settings, plan, mirror, commit, context)
            image_id = _stream_build(settings, plan, context, labels, log, deadline)
        seconds = round(time.monotonic() - started, 3)
        outcome = BuildOutcome(image_id, seconds, log.python_version, log.notes, log.inferred)
        outcome.image_id = stamp_outcome(settings, outcome, labels, log)
        return outcome
    except OSError as exc:
        log.write(f"\n[bugtrail] {exc}\n")
        raise EnvBuildError(f"environment build failed: {exc}", log.tail()) from exc
    finally:
        log.close()


def _stream_build(
    settings: Settings,
    plan: EnvironmentPlan,
    context: BinaryIO,
    labels: dict[str, str],
    log: BuildLog,
    deadline: float,
) -> str:
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    try:
        client = docker_client(settings, timeout=max(10.0, deadline - time.monotonic()))
    except Unavailable as exc:
        raise EnvBuildError(
            "no Docker daemon is reachable for the environment build", str(exc.detail)
        ) from exc
    image_id = ""
    timed_out = False
    try:
        # host network: the daemon has no bridge; the build reaches the package registries like the host does.
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            buildargs={"BASE_IMAGE": plan.base_image},
            network_mode="host",
            rm=True,
            forcerm=True,
            pull=False,
            labels=labels,
            timeout=max(10, int(deadline - time.monotonic())),  # the socket read timeout (None by default)
            container_limits={"memory": _bytes(settings.env_build_memory), "memswap": -1},
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                log.write(f"\n[bugtrail] {chunk.get('error')}\n")
                raise EnvBuildError(_failure(str(chunk.get("error"))), log.tail())
            text = str(chunk.get("stream", ""))
            if text:
                log.write(text)
            aux = chunk.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
            if time.monotonic() > deadline:
                timed_out = True
                break
    except (
        requests.exceptions.ReadTimeout,
        requests.exceptions.ConnectionError,
        urllib3.exceptions.ReadTimeoutError,
        urllib3.exceptions.ProtocolError,
    ) as exc:
        timed_out = time.monotonic() >= deadline - 1
        if not timed_out:
            raise EnvBuildError(
                f"lost the Docker daemon during the environment build: {exc}", log.tail()
            ) from exc
    except docker.errors.DockerException as exc:
        raise EnvBuildError(f"environment build failed: {_first_line(str(exc))}", log.tail()) from exc
    finally:
        client.close()  # closing the connection cancels a build still running (a timeout)
    if timed_out:
        log.write(f"\n[bugtrail] build timed out after {settings.env_build_timeout_s:.0f}s; cancelled\n")
        raise EnvBuildError(
            f"environment build timed out after {settings.env_build_timeout_s:.0f}s "
            "(BUGTRAIL_ENV_BUILD_TIMEOUT_S)",
            log.tail(),
        )
    if not image_id:
        raise EnvBuildError("environment build ended without an image", log.tail())
    return image_id


def _failure(error: str) -> str:
    code = re.search(r"returned a non-zero code: (\d+)", error)
    if code and "install.sh" in error:
        return f"the environment install failed (exit code {code.group(1)}); see the build log"
    return f"environment build failed: {_first_line(error)}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:500] if text.strip() else "unknown error"


def _bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)b?", size.strip().lower())
    if not match:
        return 4 * 1024**3
    return int(float(match.group(1)) * 1024 ** " kmgt".index(match.group(2) or " "))


def remove_image(client: Any, image_id: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):
        client.images.remove(image_id, force=True)
