"""Replay one trace: checkout base_commit, prepare the environment, apply edits, run the tests, grade.

No database here: the pipeline loads the repository's configuration and passes it in.
Log directory layout (fixed names, so a run can be re-graded from disk):
  <log_dir>/patch_report.json     per-edit report for the "after" tree (all edits)
  <log_dir>/before/{test_output.txt,junit.xml,run.json}
  <log_dir>/before/run-1/...      the reruns of BUGTRAIL_QA_RERUNS (same files), run-2/, ...
  <log_dir>/after/{test_output.txt,junit.xml,run.json} and after/run-N/
  <log_dir>/verdict.json
  <log_dir>/checkpoints/...       step-level runs (qa.checkpoints), when BUGTRAIL_QA_CHECKPOINTS > 0
The work trees are copies of one history cut of base_commit (qa.workspace.history_cut): the containers
never see a commit, ref or object from after base_commit.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from bugtrail.config import Settings
from bugtrail.errors import Unavailable
from bugtrail.qa import environment_adapter as environments
from bugtrail.qa import liveness
from bugtrail.qa.apply_container import apply_in_container
from bugtrail.qa.checkpoint_runs import run_checkpoints
from bugtrail.qa.checkpoints import choose, grade_checkpoints, recorded_test_runs
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.environments.schemas import EnvironmentInfo
from bugtrail.qa.errors import QaInfraError, QaInputError, QaSkipped
from bugtrail.qa.grading import RERUN_PREFIX, Verdict, grade_logs
from bugtrail.qa.patch_lines import trace_patch
from bugtrail.qa.patching import EditReport, EditSpec, command_test_files, is_test_file
from bugtrail.qa.result import ErrorKind, patch_exact_of
from bugtrail.qa.runner import OUTPUT_FILE, RunResult, run_phase
from bugtrail.qa.upstream import find_upstream_match
from bugtrail.qa.workspace import check_repo_allowed, copy_checkout, ensure_mirror, history_cut
from bugtrail.repos.schemas import RepoConfig
from bugtrail.traces.redaction import redact_text
from bugtrail.wire import TraceRead

BEFORE_OUTPUT_KEEP = 64 * 1024  # the "before" run's output kept in the result document (tail)
ERROR_OUTPUT_KEEP = 64 * 1024  # the log tail kept with an environment error
PHASES = ("before", "after")
BASE_REPO = "base.git"  # in the scratch dir: the history cut every work tree of the job is copied from

log = logging.getLogger("bugtrail.qa")


@dataclass
class ReplayResult:
    outcome: str  # completed | skipped | error
    test_command: str
    image: str
    log_dir: str
    verdict: Verdict | None = None
    error_kind: ErrorKind | None = None  # set when outcome is error
    environment: EnvironmentInfo | None = None
    reruns: int = 0
    patch_applied: bool | None = None
    patch_exact: bool | None = None
    patch_report: list[dict[str, Any]] = field(default_factory=list)
    before: RunResult | None = None
    after: RunResult | None = None
    test_output: str | None = None
    before_output: str | None = None
    error: str | None = None
    setup_s: float = 0.0
    test_duration_s: float | None = None  # the two runs' durations added up
    tests_wall_s: float | None = None  # wall time of the test runs (less when they run in parallel)
    upstream_match: dict[str, Any] | None = None
    checkpoints: list[dict[str, Any]] | None = None  # None: BUGTRAIL_QA_CHECKPOINTS is 0
    checkpoints_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def edits_of(trace: TraceRead) -> list[EditSpec]:
    return [
        EditSpec(index=i, event_id=str(event.event_id), details=dict(event.details))
        for i, event in enumerate(trace.events)
        if event.type == "edit"
    ]


def scratch_root(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "qa-scratch"


def replay_trace(
    settings: Settings,
    trace: TraceRead,
    log_dir: Path,
    worker_id: str = "",
    repo_config: RepoConfig | None = None,
) -> ReplayResult:
    """Skipped/input/environment problems come back as a result; infrastructure problems raise QaInfraError.

    repo_config is the repository's registered configuration (the pipeline loads it); without a pipeline
    (benchmarks, tests) the settings maps stand in for it.
    """
    if repo_config is None:
        repo_config = environments.config_from_settings(settings, trace.repo_url)
    command = environments.test_command_for(settings, trace, repo_config)
    image = environments.default_image(settings, repo_config)
    result = ReplayResult(outcome="completed", test_command=command, image=image, log_dir=str(log_dir))
    try:
        return _replay(settings, trace, log_dir, worker_id, result, repo_config)
    except QaSkipped as exc:
        result.outcome, result.error = "skipped", str(exc)
    except QaInputError as exc:
        result.outcome, result.error_kind, result.error = "error", "input", str(exc)
    return result


def _replay(
    settings: Settings,
    trace: TraceRead,
    log_dir: Path,
    worker_id: str,
    result: ReplayResult,
    repo_config: RepoConfig | None,
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
        result.upstream_match = _upstream_match(settings, mirror, trace)
        patterns = list(settings.test_file_patterns)  # a copy: the settings are shared
        if repo_config is not None:
            patterns += repo_config.test_file_patterns
        patterns += command_test_files(result.test_command)  # what the command runs is a test file

        base_repo = scratch / BASE_REPO
        history_cut(mirror, trace.base_commit, base_repo, depth=settings.qa_history_depth)

        def check_out(phase: str) -> None:
            copy_checkout(base_repo, trace.base_commit or "", scratch / phase / "repo")

        def apply(phase: str) -> list[EditReport]:
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
            list(pool.map(check_out, PHASES))
        # The environment is chosen from the tree at base_commit, before any edit touches it.
        prepared = environments.prepare_environment(
            settings,
            trace,
            repo_config,
            scratch / "before" / "repo",
            mirror,
            log_dir / "environment",
            result.test_command,
        )
        result.environment, result.image = prepared.info, prepared.image
        if prepared.error is not None:
            result.setup_s = round(time.monotonic() - started, 3)
            return _environment_failed(log_dir, result, prepared.error, prepared.info.build_log_tail)
        with ThreadPoolExecutor(workers, thread_name_prefix="qa-phase") as pool:
            reports = dict(zip(PHASES, pool.map(apply, PHASES), strict=True))
        result.patch_report = [report.as_dict() for report in reports["after"]]
        result.patch_applied = all(report.applied for report in reports["after"])
        result.patch_exact = patch_exact_of(result.patch_report)
        (log_dir / "patch_report.json").write_text(json.dumps(result.patch_report, indent=2))
        result.setup_s = round(time.monotonic() - started, 3)
        refused = [r for r in reports["after"] if r.refused]  # unsafe paths: a bad trace, not a failed fix
        if refused:
            raise QaInputError(
                "the trace's edits were refused as unsafe",
                "; ".join(f"edit #{r.index} ({r.file}): {r.error}" for r in refused),
            )
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
                first: RunResult | None = None
                # Reruns go to <phase>/run-N/ in the same tree, so state a test leaves behind is kept
                # (that is what makes an order-dependent test show up as flaky).
                for attempt in range(settings.qa_reruns + 1):
                    run_dir = log_dir / phase
                    if attempt:
                        run_dir = run_dir / f"{RERUN_PREFIX}{attempt}"
                    outcome = run_phase(
                        settings,
                        client,
                        phase=phase,
                        scratch=scratch / phase,
                        command=result.test_command,
                        image=result.image,
                        log_dir=run_dir,
                        readonly_mounts=[],  # never the mirror: it holds the future
                        worker_id=worker_id,
                    )
                    first = first or outcome
                assert first is not None
                return first
            finally:
                client.close()

        tests_started = time.monotonic()
        with ThreadPoolExecutor(workers, thread_name_prefix="qa-phase") as pool:
            result.before, result.after = pool.map(run, PHASES)
        result.tests_wall_s = round(time.monotonic() - tests_started, 3)
        result.test_duration_s = round(result.before.duration_s + result.after.duration_s, 3)
        result.reruns = settings.qa_reruns
        result.verdict = grade_logs(log_dir)
        result.test_output = stored_output(log_dir / "after" / OUTPUT_FILE)
        result.before_output = stored_output(log_dir / "before" / OUTPUT_FILE, keep=BEFORE_OUTPUT_KEEP)
        if result.verdict.error_kind is not None:  # the tests could not run: not a verdict on the fix
            result.outcome, result.error_kind = "error", cast(ErrorKind, result.verdict.error_kind)
            result.error = result.verdict.error
            if not result.test_output.strip():
                result.test_output = result.before_output
        _write_verdict(log_dir, result)
        if settings.qa_checkpoints and result.verdict.error_kind is None:
            _checkpoints(settings, trace, edits, patterns, base_repo, scratch, log_dir, result, worker_id)
        return result
    finally:
        # Deleting thousands of files is not on the job's critical path; a crash leaves it to
        # remove_orphan_scratch at the next worker start.
        threading.Thread(target=shutil.rmtree, args=(scratch, True), daemon=True).start()


def _upstream_match(settings: Settings, mirror: Path, trace: TraceRead) -> dict[str, Any] | None:
    """A flag, never a reason to fail QA: a git problem here leaves it null and is logged."""
    try:
        patch = trace_patch(event.details for event in trace.events if event.type == "edit")
        match = find_upstream_match(settings, mirror, trace.base_commit or "", patch)
    except Exception:  # the verdict on the tests must not depend on this check
        log.exception("upstream match failed for trace %s", trace.trace_id)
        return None
    return match.as_dict() if match else None


def _checkpoints(
    settings: Settings,
    trace: TraceRead,
    edits: list[EditSpec],
    patterns: list[str],
    base_repo: Path,
    scratch: Path,
    log_dir: Path,
    result: ReplayResult,
    worker_id: str,
) -> None:
    """Step-level labels: the recorded test runs replayed in the main runs' environment, then graded."""
    chosen = choose(recorded_test_runs(trace.events, result.test_command), settings.qa_checkpoints)
    try:
        run_checkpoints(
            settings,
            runs=chosen,
            edits=edits,
            patterns=patterns,
            source_tree=base_repo,
            base_commit=trace.base_commit or "",
            scratch=scratch,
            log_dir=log_dir,
            command=result.test_command,
            image=result.image,
            worker_id=worker_id,
        )
    except (QaInfraError, QaInputError) as exc:  # the main verdict stands; the labels are missing
        result.checkpoints_error = str(exc)
    fail_to_pass = result.verdict.fail_to_pass if result.verdict else []
    result.checkpoints = grade_checkpoints(log_dir, fail_to_pass)


def _environment_failed(
    log_dir: Path, result: ReplayResult, reason: str, log_tail: str | None
) -> ReplayResult:
    """The environment could not be built: an error of kind environment, with the build log's tail."""
    result.outcome, result.error_kind, result.error = "error", "environment", reason
    result.test_output = redact_text((log_tail or "")[-ERROR_OUTPUT_KEEP:])[0] or None
    _write_verdict(log_dir, result)
    return result


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
    document = {
        "verdict": verdict,
        "patch_applied": result.patch_applied,
        "patch_exact": result.patch_exact,
        "error_kind": result.error_kind,
        "error": result.error,
    }
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
