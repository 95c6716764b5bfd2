"""Run the checkpoints qa.checkpoints chose: each one's tree, its edits applied in a container, the tests.

Same machinery as the main runs (qa.replay): a copy of the history-cut checkout, qa.apply_container for the
edits recorded before the checkpoint's command, qa.runner with the main runs' image and test command.
Writes the fixed-name logs qa.checkpoints.grade_checkpoints reads; grading is not done here.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.qa.apply_container import apply_in_container
from bugtrail.qa.checkpoints import CHECKPOINTS_DIR, INDEX_FILE, RecordedRun, checkpoint_name
from bugtrail.qa.docker_api import docker_client
from bugtrail.qa.patching import EditSpec
from bugtrail.qa.runner import run_phase
from bugtrail.qa.workspace import copy_checkout


def run_checkpoints(
    settings: Settings,
    *,
    runs: list[RecordedRun],
    edits: list[EditSpec],
    patterns: list[str],
    source_tree: Path,
    base_commit: str,
    scratch: Path,
    log_dir: Path,
    command: str,
    image: str,
    worker_id: str = "",
) -> None:
    """Replay each run's work tree and test it; `source_tree` is a clean checkout of base_commit."""
    root = log_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)

    def one(numbered: tuple[int, RecordedRun]) -> dict[str, object]:
        number, run = numbered
        name = checkpoint_name(number)
        work = scratch / name
        before_it = [edit for edit in edits if edit.index < run.position]
        entry: dict[str, object] = {
            "name": name,
            "event_id": run.event_id,
            "seq": run.seq,
            "edits": len(before_it),
        }
        try:
            copy_checkout(source_tree, base_commit, work / "repo")
            client = docker_client(settings)
            try:
                reports = apply_in_container(
                    settings,
                    client,
                    phase=name,
                    scratch=work,
                    edits=before_it,
                    patterns=patterns,
                    worker_id=worker_id,
                )
                entry["patch_applied"] = all(report.applied for report in reports)
                if entry["patch_applied"]:
                    run_phase(
                        settings,
                        client,
                        phase=name,
                        scratch=work,
                        command=command,
                        image=image,
                        log_dir=root / name,
                        readonly_mounts=[],
                        worker_id=worker_id,
                    )
            finally:
                client.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)  # checkpoints add up; free each tree when done
        return entry

    workers = 2 if settings.qa_parallel_phases else 1
    with ThreadPoolExecutor(workers, thread_name_prefix="qa-checkpoint") as pool:
        index = list(pool.map(one, enumerate(runs, start=1)))
    (root / INDEX_FILE).write_text(json.dumps(index, indent=2))
