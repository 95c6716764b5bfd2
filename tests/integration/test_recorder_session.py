"""A developer's whole session through the real CLI against a real `bugtrail serve` process."""

from __future__ import annotations

from pathlib import Path

from tests.support.recorder import (
    BUGGY,
    TEST,
    bugtrail,
    cli_env,
    developer_key,
    get_trace,
    replay,
    run_session,
    session_trace_id,
    work_tree_files,
)
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer


def test_scripted_session_is_stored_in_true_order_and_replays(server: BugtrailServer, tmp_path: Path) -> None:
    key = developer_key(server, "dana")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": TEST})
    env = cli_env(server.url, key, tmp_path)

    steps = run_session(repo, env)
    assert steps == [
        ("start", 0),
        ("run-fail", 1),
        ("hypothesis", 0),
        ("run-pass", 0),
        ("outcome", 0),
        ("finish", 0),
    ]

    trace = get_trace(server, key, session_trace_id(repo))
    assert trace["developer_id"] == "dana"
    assert trace["status"] in ("queued", "running", "completed", "failed")  # finalized
    assert trace["base_commit"] == (repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    kinds = [
        (
            e["type"],
            e["details"].get("file") or e["details"].get("reasoning_type") or e["details"]["exit_code"],
        )
        for e in trace["events"]
    ]
    assert kinds == [
        ("edit", "tests/test_calc.py"),
        ("command", 1),
        ("reasoning", "hypothesis"),
        ("edit", "calc.py"),
        ("command", 0),
        ("reasoning", "outcome"),
    ]
    assert [e["seq"] for e in trace["events"]] == sorted(e["seq"] for e in trace["events"])
    failing, passing = (e["details"] for e in trace["events"] if e["type"] == "command")
    assert "2 failed" in failing["output"] and "assert -1 == 5" in failing["output"]
    assert "2 passed" in passing["output"]
    assert failing["working_directory"] == "." and failing["duration_ms"] >= 0
    assert trace["events"][5]["details"]["refers_to"] == [trace["events"][4]["event_id"]]
    assert trace["events"][2]["details"]["confidence"] == "high"

    replayed = replay(repo, trace["base_commit"], trace["events"], tmp_path / "replay")
    assert work_tree_files(replayed) == work_tree_files(repo)


def test_status_sync_and_errors_that_say_what_to_do(server: BugtrailServer, tmp_path: Path) -> None:
    key = developer_key(server, "erin")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY})
    env = cli_env(server.url, key, tmp_path)

    no_session = bugtrail(repo, env, "note", "hello")
    assert no_session.returncode == 1 and b"bugtrail start" in no_session.stderr
    outside = bugtrail(tmp_path, env, "status")
    assert outside.returncode == 1 and b"not inside a git work tree" in outside.stderr
    bad_key = bugtrail(repo, {**env, "BUGTRAIL_API_KEY": "btk_wrong"}, "start", "--bug", "x")
    assert bad_key.returncode == 1 and b"bugtrail login" in bad_key.stderr

    assert bugtrail(repo, env, "start", "--bug", "mul is fine, add is not").returncode == 0
    again = bugtrail(repo, env, "start", "--bug", "second")
    assert again.returncode == 1 and b"bugtrail finish" in again.stderr
    status = bugtrail(repo, env, "status")
    assert status.returncode == 0, status.stderr
    assert b"all sent" in status.stdout and b"pending" in status.stdout
    unwrapped = bugtrail(repo, env, "run", "--shell", "echo $((40 + 2)); exit 7")
    assert unwrapped.returncode == 7 and unwrapped.stdout == b"42\n"
    assert bugtrail(repo, env, "sync").returncode == 0
    aborted = bugtrail(repo, env, "abort", "--yes")
    assert aborted.returncode == 0 and b"aborted" in aborted.stdout
    assert bugtrail(repo, env, "status").returncode == 0


def test_login_saves_a_private_config_the_other_verbs_use(server: BugtrailServer, tmp_path: Path) -> None:
    import stat

    key = developer_key(server, "gus")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY})
    env = cli_env("http://127.0.0.1:9", None, tmp_path)
    env.pop("BUGTRAIL_SERVER")
    refused = bugtrail(repo, env, "login", "--server", server.url, "--api-key", "btk_nope")
    assert refused.returncode == 1 and b"refused this key" in refused.stderr
    unreachable = bugtrail(repo, env, "login", "--server", "http://127.0.0.1:9", "--api-key", key)
    assert unreachable.returncode == 1 and b"--no-verify" in unreachable.stderr

    login = bugtrail(repo, env, "login", "--server", server.url, "--api-key", key)
    assert login.returncode == 0 and b"Logged in as gus (developer)" in login.stdout
    config = tmp_path / "config" / "bugtrail" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and key in config.read_text()
    assert bugtrail(repo, env, "start", "--bug", "via config file").returncode == 0
    assert get_trace(server, key, session_trace_id(repo))["developer_id"] == "gus"


def test_finish_wait_reports_progress_until_its_timeout(server: BugtrailServer, tmp_path: Path) -> None:
    key = developer_key(server, "hal")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY})
    env = cli_env(server.url, key, tmp_path)
    assert bugtrail(repo, env, "start", "--bug", "waits").returncode == 0
    # This server runs no QA worker: the trace stays queued and --wait gives up politely.
    finished = bugtrail(repo, env, "finish", "--wait", "--timeout", "2")
    assert finished.returncode == 0 and b"QA still queued" in finished.stdout
    assert get_trace(server, key, session_trace_id(repo))["status"] == "queued"
