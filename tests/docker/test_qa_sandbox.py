"""Issue 10 through the real QA worker: a developer key must not reach the worker host.

Each test posts a trace with an ordinary developer key and lets the real worker replay it against a real
file:// repository (allowlisted), as an attacker would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.buggy_repo import (
    CALC,
    FIXED,
    TESTS,
    BuggyRepo,
    edit_event,
    make_buggy_repo,
    submit_and_run,
    trace_body,
)

LATER = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def raw_edit(file: str, diff: str, minutes: int, **extra: Any) -> dict[str, Any]:
    event = edit_event(file, "", "", LATER + timedelta(minutes=minutes), **extra)
    event["details"]["diff"] = diff
    return event


def filter_chain(config: str, attributes: str, marker: Path) -> str:
    """Installs a clean filter that writes `marker` (the scratch clone's .git/config starts with [core])."""
    return (
        f"--- a/{config}\n+++ b/{config}\n@@ -1 +1,3 @@\n"
        f'+[filter "pwn"]\n+\tclean = touch {marker}\n [core]\n'
        f"--- /dev/null\n+++ b/{attributes}\n@@ -0,0 +1 @@\n+* filter=pwn\n"
    )


@pytest.mark.parametrize(
    "shape",
    [
        (".git/config", ".git/info/attributes"),
        (".GIT/config", ".GIT/info/attributes"),
        ("sub/../.git/config", "sub/../.git/info/attributes"),
        "rename-into-git",
    ],
    ids=["plain", "upper", "dotdot", "rename"],
)
def test_git_filter_chain_never_runs_on_the_worker_host(
    client, keys, worker, buggy_repo: BuggyRepo, tmp_path: Path, shape: object
) -> None:
    markers = tmp_path / "markers"  # the filter's only output; nothing else writes here
    markers.mkdir()
    marker = markers / "marker-written-by-the-filter"
    if shape == "rename-into-git":
        attack = "diff --git a/calc.py b/.git/config\nsimilarity index 100%\n"
        attack += "rename from calc.py\nrename to .git/config\n"
    else:
        config, attributes = shape  # type: ignore[misc]
        attack = filter_chain(config, attributes, marker)
    body = trace_body(buggy_repo.url, buggy_repo.base_commit, [])
    body["events"] += [
        raw_edit("calc.py", attack, 1),
        edit_event("calc.py", CALC, FIXED, LATER + timedelta(minutes=2)),
    ]
    trace = submit_and_run(client, keys, worker, body)
    qa = trace["qa_results"]
    assert len(qa["patch_report"]) == 2, (qa["error"], qa["outcome"])
    first, second = qa["patch_report"]
    assert first["applied"] is False and first["refused"] is True, first
    assert ".git" in first["error"] and "edits may not touch the .git directory" in first["error"]
    assert second["applied"] is True, second
    # A refused edit makes the trace bad input: no verdict on the fix, and the reason is kept.
    assert qa["patch_applied"] is False and qa["outcome"] == "error", qa
    assert qa["error_kind"] == "input" and ".git directory" in qa["error"], qa["error"]
    assert not marker.exists() and not list(markers.iterdir())


def test_symlink_to_an_outside_file_is_refused_and_rolled_back(
    client, keys, worker, buggy_repo: BuggyRepo, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    lines = CALC.splitlines()
    to_link = (
        "diff --git a/calc.py b/calc.py\ndeleted file mode 100644\n--- a/calc.py\n+++ /dev/null\n"
        f"@@ -1,{len(lines)} +0,0 @@\n"
        + "".join(f"-{line}\n" for line in lines)
        + "diff --git a/calc.py b/calc.py\nnew file mode 120000\n--- /dev/null\n+++ b/calc.py\n"
        f"@@ -0,0 +1 @@\n+{victim}\n\\ No newline at end of file\n"
    )
    failing = "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,2 +1,2 @@\n-nope\n+x\n \n"
    body = trace_body(buggy_repo.url, buggy_repo.base_commit, [])
    body["events"] += [raw_edit("calc.py", to_link + failing, 1), raw_edit("calc.py", to_link, 2)]
    trace = submit_and_run(client, keys, worker, body)
    first, second = trace["qa_results"]["patch_report"]
    assert first["applied"] is False and second["applied"] is False
    assert second["refused"] is True and "outside" in second["error"]
    assert victim.read_text() == "precious\n" and sorted(tmp_path.iterdir()) != []


def test_dotdot_out_of_the_allowlisted_dir_is_skipped(
    client, keys, worker, repos_dir: Path, tmp_path: Path
) -> None:
    outside = make_buggy_repo(tmp_path / "elsewhere" / "repo")
    (outside.path / "SECRET_OUTSIDE_FILE.txt").write_text("outside-secret-content")
    url = f"file://{repos_dir}/../elsewhere/repo"
    body = trace_body(url, outside.base_commit, [("calc.py", CALC, FIXED)], test_command="cat *.txt; ls")
    trace = submit_and_run(client, keys, worker, body)
    qa = trace["qa_results"]
    assert qa["outcome"] == "skipped" and "'..'" in qa["error"], qa["error"]
    assert "outside-secret-content" not in str(qa) and "SECRET_OUTSIDE_FILE" not in str(qa)


TOKEN_PARTS = ("ghp_", "Zq4Rk9Lm2Xw7Vt5Np3Hs8Jd6Fb1Gc0Ya4Ue9")


def test_token_printed_by_a_test_is_stored_redacted(client, keys, worker, buggy_repo: BuggyRepo) -> None:
    token = "".join(TOKEN_PARTS)
    printed = f"'token=' + {TOKEN_PARTS[0]!r} + {TOKEN_PARTS[1]!r}"  # the diff never holds the token
    leaky = TESTS + f"\n\ndef test_leaks():\n    print({printed})\n    assert False\n"
    body = trace_body(buggy_repo.url, buggy_repo.base_commit, [("tests/test_calc.py", TESTS, leaky)])
    trace = submit_and_run(client, keys, worker, body)
    qa = trace["qa_results"]
    assert qa["outcome"] == "completed", qa["error"]
    assert "test_leaks" in qa["test_output"] and "token=" in qa["test_output"]
    assert token not in qa["test_output"] and "[REDACTED" in qa["test_output"]
    assert token not in qa["before"]["output_tail"] and "[REDACTED" in qa["before"]["output_tail"]
