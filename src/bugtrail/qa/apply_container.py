"""Apply a trace's edits inside a hardened runner container: no host process runs git or patch on a tree an
edit has shaped (see docs/qa.md, "Hardening").

The applier is qa.patching itself (standard library only), copied into a read-only bundle next to the
scratch dir together with the job (edits, patterns). The container gets the same lock-down as a test run
(qa.runner.hardened_options) and prints one JSON report on stdout; that report is untrusted like everything
else that comes out of the container, so its size, shape and types are checked before it is used.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

from bugtrail.config import Settings
from bugtrail.qa import safe_paths
from bugtrail.qa.capped import CappedOutput
from bugtrail.qa.errors import QaInfraError, QaInputError
from bugtrail.qa.patching import RENAME_KEYS, EditReport, EditSpec, is_test_file
from bugtrail.qa.runner import CONTAINER_ROOT, container_labels, container_user, hand_over, hardened_options

BUNDLE_MOUNT = "/opt/bugtrail-applier"
# Everything the applier imports: it runs on the image's python3 with no bugtrail dependencies.
APPLIER_MODULES = ("patching.py", "safe_paths.py", "diff_vetting.py", "gitcmd.py")
MAX_REPORT_BYTES = 16 * 1024 * 1024
STDERR_KEEP = 8 * 1024
METHODS = {"git-apply", "git-apply-reject", "patch-fuzz", "delete", "rename", "empty"}
MAX_ERROR_CHARS = 2000
MAX_ATTEMPTS = 5
# Applying edits is quick; a separate bound from the tests' timeout (which may be tuned to seconds).
APPLY_TIMEOUT_S = 120.0


def apply_in_container(
    settings: Settings,
    client: Any,
    *,
    phase: str,
    scratch: Path,
    edits: list[EditSpec],
    patterns: list[str],
    worker_id: str = "",
) -> list[EditReport]:
    """Apply `edits` to scratch/repo in a container; one report per edit, in order."""
    reports: list[EditReport | None] = [_refused_on_host(edit, patterns) for edit in edits]
    to_send = [edit for edit, report in zip(edits, reports, strict=True) if report is None]
    if to_send:
        bundle = scratch.parent / f"applier-{phase}"
        _write_bundle(bundle, to_send, patterns)
        try:
            raw = _run_applier(
                settings, client, phase=phase, scratch=scratch, bundle=bundle, worker_id=worker_id
            )
        finally:
            shutil.rmtree(bundle, ignore_errors=True)
        applied = iter(parse_report(raw, to_send, patterns))
        reports = [report if report is not None else next(applied) for report in reports]
    return [report for report in reports if report is not None]


def _refused_on_host(edit: EditSpec, patterns: list[str]) -> EditReport | None:
    """Defence in depth: names the host can already see are unsafe never reach the container."""
    try:
        safe_paths.check_relative(edit.file)
        for key in RENAME_KEYS:
            if edit.details.get(key):
                safe_paths.check_relative(str(edit.details[key]))
    except safe_paths.UnsafePath as exc:
        report = EditReport(edit.index, edit.event_id, edit.file, is_test_file(edit.file, patterns), False)
        report.error, report.refused = str(exc), True
        return report
    return None


def _write_bundle(bundle: Path, edits: list[EditSpec], patterns: list[str]) -> None:
    here = Path(__file__).parent
    package = bundle / "bugtrail" / "qa"
    package.mkdir(parents=True, exist_ok=True)
    for init in (bundle / "bugtrail" / "__init__.py", package / "__init__.py"):
        init.write_text("")
    for name in APPLIER_MODULES:
        shutil.copyfile(here / name, package / name)
    shutil.copyfile(here / "apply_main.py", bundle / "apply_main.py")
    job = {
        "edits": [{"index": e.index, "event_id": e.event_id, "details": e.details} for e in edits],
        "patterns": patterns,
    }
    (bundle / "job.json").write_text(json.dumps(job))
    # Readable by the container user (the image's `runner` when the worker is root); never writable.
    for path in [bundle, *bundle.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _run_applier(
    settings: Settings, client: Any, *, phase: str, scratch: Path, bundle: Path, worker_id: str
) -> bytes:
    import docker.errors

    hand_over(scratch)
    uid, gid = container_user()
    command = ["python3", "-I", "-B", f"{BUNDLE_MOUNT}/apply_main.py", f"{BUNDLE_MOUNT}/job.json"]
    command.append(f"{CONTAINER_ROOT}/repo")
    try:
        container = client.containers.create(
            settings.runner_image,  # the base image: it has git, patch and python3 (a repo's image may not)
            command,
            working_dir="/",
            user=f"{uid}:{gid}",
            environment={"HOME": "/tmp", "LC_ALL": "C"},
            volumes={
                str(scratch.resolve()): {"bind": CONTAINER_ROOT, "mode": "rw"},
                str(bundle.resolve()): {"bind": BUNDLE_MOUNT, "mode": "ro"},
            },
            labels=container_labels(f"apply-{phase}", worker_id),
            **hardened_options(settings),
        )
    except docker.errors.ImageNotFound as exc:
        message = f"runner image {settings.runner_image!r} not found"
        raise QaInfraError(message, "run `bugtrail runner build-image`") from exc
    except docker.errors.DockerException as exc:
        raise QaInfraError("could not create the edit-application container", str(exc)) from exc
    stdout, stderr = CappedOutput(MAX_REPORT_BYTES), CappedOutput(STDERR_KEEP)
    try:
        stream = container.attach(stdout=True, stderr=True, stream=True, logs=False, demux=True)
        reader = threading.Thread(target=_drain, args=(stream, stdout, stderr), daemon=True)
        container.start()
        reader.start()
        reader.join(APPLY_TIMEOUT_S)
        timed_out = reader.is_alive()
        if timed_out:
            with contextlib.suppress(docker.errors.DockerException):
                container.kill()
            reader.join(30)
        exit_code = int(container.wait(timeout=60).get("StatusCode", -1))
    except docker.errors.DockerException as exc:
        raise QaInfraError("the edit-application container failed", str(exc)) from exc
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)
    detail = stderr.text().strip()[-2000:]
    if exit_code in (126, 127):  # the image cannot run the applier at all: an operator problem
        raise QaInfraError("the runner image cannot run the edit applier (python3 missing?)", detail)
    if timed_out:
        raise QaInputError(f"applying the edits took longer than {APPLY_TIMEOUT_S:.0f} s", detail)
    if exit_code != 0:
        raise QaInputError(f"applying the edits failed (exit {exit_code})", detail)
    if stdout.truncated:
        raise QaInputError("the edit applier's report is too large", f"over {MAX_REPORT_BYTES} bytes")
    return stdout.getvalue()


def _drain(stream: Any, stdout: CappedOutput, stderr: CappedOutput) -> None:
    with contextlib.suppress(Exception):  # the stream ends with an error when the container is killed
        for out, err in stream:
            if out:
                stdout.write(out)
            if err:
                stderr.write(err)


def parse_report(raw: bytes, edits: list[EditSpec], patterns: list[str]) -> list[EditReport]:
    """The container's reports, checked: one per edit, known fields of the right types, bounded sizes.

    Who the report is about (index, event id, file, is_test) comes from our own edit list, never from it.
    """
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise QaInputError("the edit applier's report is not JSON", str(exc)[:200]) from exc
    if not isinstance(items, list) or len(items) != len(edits):
        raise QaInputError("the edit applier's report does not match the edits", f"{len(edits)} edits")
    return [_checked(item, edit, patterns) for item, edit in zip(items, edits, strict=True)]


def _checked(item: object, edit: EditSpec, patterns: list[str]) -> EditReport:
    def bad(field: str) -> QaInputError:
        return QaInputError("the edit applier's report is malformed", f"edit #{edit.index}: {field}")

    if not isinstance(item, dict):
        raise bad("not an object")
    applied, refused, method = item.get("applied"), item.get("refused", False), item.get("method")
    error, attempts = item.get("error"), item.get("attempts", [])
    if not isinstance(applied, bool) or not isinstance(refused, bool):
        raise bad("applied/refused")
    if method is not None and method not in METHODS:
        raise bad("method")
    if error is not None and not isinstance(error, str):
        raise bad("error")
    if not isinstance(attempts, list) or not all(isinstance(a, str) for a in attempts):
        raise bad("attempts")
    if applied and (method is None or refused):
        raise bad("applied without a method")
    report = EditReport(edit.index, edit.event_id, edit.file, is_test_file(edit.file, patterns), applied)
    report.method = method if applied else None
    report.error = error[:MAX_ERROR_CHARS] if error is not None else None
    report.attempts = [attempt[:MAX_ERROR_CHARS] for attempt in attempts[:MAX_ATTEMPTS]]
    report.refused = refused
    return report
