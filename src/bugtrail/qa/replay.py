"""Replay one trace: checkout base_commit, apply edits, run the tests before/after, grade. No database here.

Log directory layout (fixed names, so a run can be re-graded from disk):
  <log_dir>/patch_report.json     per-edit report for the "after" tree (all edits)
  <log_dir>/before/{test_output.txt,junit.xml,run.json}
  <log_dir>/after/{test_output.txt,junit.xml,run.json}
  <log_dir>/verdict.json
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bugtrail.config import Settings, split_csv
from bugtrail.errors import Unavailable
from bugtrail.qa import liveness
from bugtrail.qa.apply_container import apply_in_container
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.errors import QaInfraError, QaInputError, QaSkipped
from bugtrail.qa.grading import Verdict, grade_logs
from bugtrail.qa.patching import EditReport, EditSpec, is_test_file
from bugtrail.qa.runner import OUTPUT_FILE, RunResult, run_phase
from bugtrail.qa.workspace import check_repo_allowed, checkout, ensure_mirror
from bugtrail.traces.redaction import redact_text
from bugtrail.wire import TraceRead

BEFORE_OUTPUT_KEEP = 64 * 1024
PHASES = ("before", "after")  # the "before" run's output kept in the result document (tail)


@dataclass
class ReplayResult:
    outcome: str  # completed | skipped | error
    test_command: str
    image: str
    log_dir: str
    verdict: Verdict | None = None
    patch_applied: bool | None = None
    patch_report: list[dict[str, Any]] = field(default_factory=list)
    before: RunResult | None = None
    after: RunResult | None = None
    test_output: str | None = None
    before_output: str | None = None
    error: str | None = None
    setup_s: float = 0.0
    test_duration_s: float | None = None  # the two runs' durations added up
    tests_wall_s: float | None = None  # wall time of the test runs (less when they run in parallel)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def test_command_for(settings: Settings, trace: TraceRead) -> str:
    if trace.test_command and trace.test_command.strip():
        return trace.test_command
    return _lookup_map(settings.test_command_map, trace.repo_url) or settings.default_test_command


def image_for(settings: Settings, repo_url: str) -> str:
    return _lookup_map(settings.runner_image_map, repo_url) or settings.runner_image


def _lookup_map(raw: str, repo_url: str) -> str | None:
    """`prefix=value,prefix=value`: the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for entry in split_csv(raw):
        prefix, sep, value = entry.partition("=")
        if sep and repo_url.startswith(prefix.strip()) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), value.strip())
    return best[1] if best else None


def edits_of(trace: TraceRead) -> list[EditSpec]:
    return [
        EditSpec(index=i, event_id=str(event.event_id), details=dict(event.details))
        for i, event in enumerate(trace.events)
        if event.type == "edit"
    ]


def scratch_root(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "qa-scratch"


def replay_trace(settings: Settings, trace: TraceRead, log_dir: Path, worker_id: str = "") -> ReplayResult:
    """Skipped/input problems come back as a result; infrastructure problems raise QaInfraError."""
    command = test_command_for(settings, trace)
    image = image_for(settings, trace.repo_url)
    result = ReplayResult(outcome="completed", test_command=command, image=image, log_dir=str(log_dir))
    try:
        return _replay(settings, trace, log_dir, worker_id, result)
    except QaSkipped as exc:
        result.outcome, result.error = "skipped", str(exc)
    except QaInputError as exc:
        result.outcome, result.error = "error", str(exc)
    return result


def _replay(
    settings: Settings, trace: TraceRead, log_dir: Path, worker_id: str, result: ReplayResult
) -> ReplayResult:
    if not trace.base_commit:
        raise QaSkipped("trace has no base_commit; the tests cannot be replayed")
    check_repo_allowed(trace.repo_url, settings)
    try:
        docker_client(settings).close()  # fail fast (and retry later) when no daemon answers
    except Unavailable as exc:
        raise QaInfraError("no Docker daemon is reachable", str(exc.detail)) from exc

    started = time.monotonic()
    log_dir.mkdir(parents=True, exist_ok=True)
    scratch = scratch_root(settings) / f"{liveness.current().encode()}-{uuid.uuid4().hex[:12]}"
    workers = 2 if settings.qa_parallel_phases else 1
    try:
        mirror = ensure_mirror(settings, trace.repo_url, trace.base_commit)
        edits = edits_of(trace)
        patterns = split_csv(settings.test_file_patterns)

        def prepare(phase: str) -> list[EditReport]:
            tree = scratch / phase / "repo"
            checkout(mirror, trace.base_commit or "", tree)
            chosen = [e for e in edits if phase == "after" or is_test_file(e.file, patterns)]
            # In a container, like the tests: no host git or patch ever runs on an attacker-shaped tree.
            client = docker_client(settings)
            try:
                return apply_in_container(
                    settings,
                    client,
                    phase=phase,
                    scratch=scratch / phase,
                    edits=chosen,
                    patterns=patterns,
                    worker_id=worker_id,
                )
            finally:
                client.close()

        with ThreadPoolExecutor(workers, thread_name_prefix="qa-phase") as pool:
            reports = dict(zip(PHASES, pool.map(prepare, PHASES), strict=True))
        result.patch_report = [report.as_dict() for report in reports["after"]]
        result.patch_applied = all(report.applied for report in reports["after"])
        (log_dir / "patch_report.json").write_text(json.dumps(result.patch_report, indent=2))
        result.setup_s = round(time.monotonic() - started, 3)
        if not result.patch_applied:
            failed = [r for r in reports["after"] if not r.applied]
            result.verdict = Verdict(tests_passed=False, resolved=False, grading_method="not-run")
            result.test_output = "edits did not apply; tests were not run:\n" + "\n".join(
                f"  edit #{r.index} ({r.file}): {r.error}" for r in failed
            )
            _write_verdict(log_dir, result)
            return result

        def run(phase: str) -> RunResult:
            client = docker_client(settings)  # one client per thread: the SDK's session is not shared
            try:
                return run_phase(
                    settings,
                    client,
                    phase=phase,
                    scratch=scratch / phase,
                    command=result.test_command,
                    image=result.image,
                    log_dir=log_dir / phase,
                    readonly_mounts=[mirror],
                    worker_id=worker_id,
                )
            finally:
                client.close()

        tests_started = time.monotonic()
        with ThreadPoolExecutor(workers, thread_name_prefix="qa-phase") as pool:
            result.before, result.after = pool.map(run, PHASES)
        result.tests_wall_s = round(time.monotonic() - tests_started, 3)
        result.test_duration_s = round(result.before.duration_s + result.after.duration_s, 3)
        result.verdict = grade_logs(log_dir)
        result.test_output = stored_output(log_dir / "after" / OUTPUT_FILE)
        result.before_output = stored_output(log_dir / "before" / OUTPUT_FILE, keep=BEFORE_OUTPUT_KEEP)
        _write_verdict(log_dir, result)
        return result
    finally:
        # Deleting thousands of files is not on the job's critical path; a crash leaves it to
        # remove_orphan_scratch at the next worker start.
        threading.Thread(target=shutil.rmtree, args=(scratch, True), daemon=True).start()


def stored_output(path: Path, keep: int | None = None) -> str:
    """A phase's output as it goes into the result: capped first (the runner capped the file at
    test_output_cap_bytes; `keep` trims to a tail), then redacted, since tests print tokens too."""
    text = _read_text(path)
    if keep is not None:
        text = text[-keep:]
    return redact_text(text)[0]


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _write_verdict(log_dir: Path, result: ReplayResult) -> None:
    verdict = result.verdict.as_dict() if result.verdict else None
    document = {"verdict": verdict, "patch_applied": result.patch_applied}
    (log_dir / "verdict.json").write_text(json.dumps(document, indent=2))


def remove_orphan_scratch(settings: Settings) -> int:
    """Delete scratch dirs whose worker process is gone (their names carry its liveness tag)."""
    root = scratch_root(settings)
    removed = 0
    for path in root.iterdir() if root.is_dir() else []:
        tag = liveness.ProcessTag.decode(path.name.rsplit("-", 1)[0])
        if liveness.owner_is_dead(tag):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
