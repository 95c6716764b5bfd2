"""Authenticity through the real API, a real worker and real containers: the history cut seen from inside the
test container, a copied upstream fix flagged, a near-duplicate linked, an equivalent rewrite left alone."""

from __future__ import annotations

from bugtrail.config import Settings
from bugtrail.qa.workspace import mirror_path
from tests.support.buggy_repo import CALC, TESTS, BuggyRepo, good_fix, submit_and_run, trace_body
from tests.support.future_repo import (
    EQUIVALENT_FIX,
    EQUIVALENT_TEST,
    FUTURE_BRANCH,
    FUTURE_MARKER,
    FUTURE_TAG,
    add_future,
)

CUT_OK = "HISTORY-CUT-OK"


def probe(settings: Settings, repo: BuggyRepo, later: list[str]) -> str:
    """Shell run in the container before the tests: every way to the future must fail, the base must work."""
    checks = [f"git cat-file -e {repo.base_commit}"]  # git works in the container: the probe can see
    checks += [f"! git cat-file -e {sha} 2>/dev/null" for sha in later]
    checks += [
        "! git log --all --reflog --format=%H | grep -q -e " + " -e ".join(later),
        f"! git cat-file --batch-all-objects --batch | grep -q {FUTURE_MARKER}",
        f"! git for-each-ref | grep -q -e {FUTURE_TAG} -e {FUTURE_BRANCH}",
        f"! grep -rqs {FUTURE_MARKER} .git",
        f"test ! -e {mirror_path(settings, repo.url)}",  # the clone cache is not mounted
        f"echo {CUT_OK}",
    ]
    return " && ".join(checks) + " && python -m pytest -q"


def test_history_is_cut_and_copies_and_duplicates_are_flagged(
    client, keys, worker, buggy_repo: BuggyRepo, settings: Settings
) -> None:
    future = add_future(buggy_repo)
    command = probe(settings, buggy_repo, [future.fix, future.later])

    copied = good_fix(buggy_repo)  # the same change as the upstream fix commit
    copied["test_command"] = command
    first = submit_and_run(client, keys, worker, copied)
    qa = first["qa_results"]
    assert qa["outcome"] == "completed" and qa["resolved"] is True, qa.get("error") or qa["test_output"]
    assert CUT_OK in qa["test_output"] and CUT_OK in qa["before"]["output_tail"], qa["test_output"]
    assert qa["upstream_match"] == {"commit": future.fix, "similarity": 1.0}
    assert first["upstream_commit"] == future.fix and first["duplicate_of"] is None
    assert qa["checkpoints"] is None  # off unless BUGTRAIL_QA_CHECKPOINTS is set

    again = good_fix(buggy_repo)  # another developer, the same fix: a near-duplicate of the first
    again["test_command"] = command
    second = submit_and_run(client, keys, worker, again)
    assert second["qa_results"]["duplicate_of"] == first["trace_id"] == second["duplicate_of"]
    assert second["upstream_commit"] == future.fix

    rewritten = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [("tests/test_calc.py", TESTS, EQUIVALENT_TEST), ("calc.py", CALC, EQUIVALENT_FIX)],
        test_command=command,
    )
    third = submit_and_run(client, keys, worker, rewritten)
    qa = third["qa_results"]
    assert qa["resolved"] is True, qa["test_output"]  # an equivalent fix, and a valid one
    assert qa["upstream_match"] is None and third["upstream_commit"] is None
    assert qa["duplicate_of"] is None and third["duplicate_of"] is None
