"""Step-level test labels on a real recorded session (issue 15, item 5): QA replays the work tree at the
recorded test runs, in the environment of its main runs, and labels each with per-test outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.real_cases import CASES_BY_NAME, MIRROR_ROOT, file_url
from tests.support.real_traces import (
    QaServer,
    describe,
    mirror_or_fail,
    start_qa_server,
    submit,
    trace_with_test_runs,
    wait_for_qa,
)
from tests.support.recorder import developer_key


@pytest.fixture(scope="module")
def checkpoint_server(tmp_path_factory: pytest.TempPathFactory, runner_image: str) -> Iterator[QaServer]:
    data = tmp_path_factory.mktemp("checkpoints") / "data"
    extra = {"BUGTRAIL_QA_CHECKPOINTS": "2"}  # three recorded runs: the first and the last are chosen
    server = start_qa_server(data, [f"{file_url(MIRROR_ROOT)}/"], runner_image, 300, extra_env=extra)
    try:
        yield server
    finally:
        server.stop()


def test_checkpoints_show_the_bug_failing_first_and_fixed_last(checkpoint_server: QaServer) -> None:
    case = CASES_BY_NAME["cachetools"]
    mirror_or_fail(case)
    key = developer_key(checkpoint_server, "casey")
    body = trace_with_test_runs(case)
    trace = wait_for_qa(checkpoint_server.url, key, submit(checkpoint_server.url, key, body))
    qa = trace["qa_results"]
    assert qa["resolved"] is True and qa["fail_to_pass"] == list(case.fail_to_pass), describe(qa)
    runs = [event for event in trace["events"] if event["type"] == "command"]
    assert len(runs) == 3
    points = qa["checkpoints"]
    assert [point["event_id"] for point in points] == [runs[0]["event_id"], runs[-1]["event_id"]], points
    assert [point["seq"] for point in points] == [runs[0]["seq"], runs[-1]["seq"]]
    first, last = points
    (bug_test,) = case.fail_to_pass
    assert first["edits"] == len(case.test_files)
    assert last["edits"] == len(case.test_files) + len(case.source_files)
    assert bug_test in first["failed"] and bug_test not in first["passed"], first
    assert first["fail_to_pass_done"] is False
    assert bug_test in last["passed"] and last["failed"] == [] and last["fail_to_pass_done"] is True, last
    assert set(last["passed"]) == set(qa["pass_to_pass"]) | set(qa["fail_to_pass"])  # the after run's tests
    # The same environment QA used: each checkpoint ran in the main runs' image with their command.
    log_dir = Path(qa["log_dir"])
    for name in ("cp-01", "cp-02"):
        run = json.loads((log_dir / "checkpoints" / name / "run.json").read_text())
        assert run["image"] == qa["runner_image"] == qa["environment"]["image"]
        assert run["command"] == qa["test_command"] == case.test_command
