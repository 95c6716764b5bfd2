"""`bugtrail serve` as a real process: migrations at start, first-start admin key, keys CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import BugtrailServer, child_pids, cli_environment, http_json


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_environment(BUGTRAIL_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "bugtrail", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_serve_prints_admin_key_once_and_keys_cli_works(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data", env={"BUGTRAIL_AUTH_CACHE_TTL_S": "5"}).start()
    try:
        admin_key = server.read_first_start_key()
        assert admin_key.startswith("btk_")
        who = httpx.get(f"{server.url}/api/whoami", headers={"Authorization": f"Bearer {admin_key}"}).json()
        assert who == {"developer_id": "admin", "role": "admin"}

        created = run_cli(tmp_path / "data", "keys", "create", "--developer", "dana", "--role", "developer")
        assert created.returncode == 0, created.stderr
        dana_key = created.stdout.strip()
        assert dana_key.startswith("btk_") and "\n" not in dana_key  # the key alone on stdout
        headers = {"Authorization": f"Bearer {dana_key}"}
        assert httpx.get(f"{server.url}/api/whoami", headers=headers).json()["developer_id"] == "dana"

        listed = run_cli(tmp_path / "data", "keys", "list")
        assert "dana" in listed.stdout and dana_key not in listed.stdout
        prefix = dana_key[:12]
        revoked = run_cli(tmp_path / "data", "keys", "revoke", prefix)
        assert revoked.returncode == 0, revoked.stderr
        # Revoked in another process: the server's key cache honours it within BUGTRAIL_AUTH_CACHE_TTL_S.
        deadline = time.monotonic() + 5.0 + 2.0
        while httpx.get(f"{server.url}/api/whoami", headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "a key revoked by the CLI was accepted after the cache TTL"
            time.sleep(0.1)
    finally:
        server.stop()

    # A second start finds keys and prints none.
    again = BugtrailServer(tmp_path / "data").start()
    try:
        again.stop()
        assert again.output.strip() == "" and again.admin_key is None
    finally:
        again.stop()


def test_cli_errors_say_what_to_do(tmp_path: Path) -> None:
    bad_role = run_cli(tmp_path / "data", "keys", "create", "--developer", "x", "--role", "boss")
    assert bad_role.returncode != 0 and "unknown role" in bad_role.stderr
    missing = run_cli(tmp_path / "data", "keys", "revoke", "btk_doesnotexist")
    assert missing.returncode != 0 and "no API key" in missing.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_invalid_setting_stops_the_start_with_the_variable_named(tmp_path: Path, command: str) -> None:
    env = cli_environment(
        BUGTRAIL_DATA_DIR=str(tmp_path / "data"),
        BUGTRAIL_JUDGE="claude",
        BUGTRAIL_TEST_COMMAND_MAP="https://h.example/=make test,oops",
    )
    started = subprocess.run(
        [sys.executable, "-m", "bugtrail", command], capture_output=True, text=True, env=env, timeout=60
    )
    assert started.returncode == 2, started.stderr
    assert "Traceback" not in started.stderr
    assert "BUGTRAIL_JUDGE='claude': Input should be 'openai', 'heuristic' or 'auto'" in started.stderr
    assert (
        "BUGTRAIL_TEST_COMMAND_MAP='https://h.example/=make test,oops': entry 'oops' is not" in started.stderr
    )
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_judge_option_is_checked_like_the_setting(tmp_path: Path) -> None:
    refused = run_cli(tmp_path / "data", "judge", "00000000-0000-0000-0000-000000000000", "--judge", "claude")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--judge must be openai, heuristic or auto, not 'claude'" in refused.stderr
    assert not (tmp_path / "data").exists()


def test_db_upgrade_on_fresh_data_dir(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "data", "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "revision 0001" in result.stderr or "revision" in result.stderr
    assert (tmp_path / "data" / "bugtrail.db").exists()


def test_e2e_example_script(tmp_path: Path) -> None:
    server = BugtrailServer(tmp_path / "data").start()
    try:
        server.read_first_start_key()
        key = run_cli(tmp_path / "data", "keys", "create", "--developer", "alice").stdout.strip()
        script = Path(__file__).parents[2] / "examples" / "e2e.sh"
        env = {**os.environ, "BUGTRAIL_SERVER": server.url, "BUGTRAIL_API_KEY": key}
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr + result.stdout
        assert "status=queued events=4" in result.stdout
    finally:
        server.stop()


def _api_processes(server: BugtrailServer) -> list[int]:
    """The API processes of `serve --workers N` (spawned by uvicorn's supervisor)."""
    assert server.process is not None
    return [
        pid
        for pid in child_pids(server.process.pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_serve_workers_runs_api_processes_against_one_database(tmp_path: Path, database_url: str) -> None:
    """`serve --workers 2`: two API processes under one parent that migrated, printed the one admin key
    and runs the one embedded worker; concurrent appends through both are all stored once."""
    server = BugtrailServer(tmp_path / "data", database_url=database_url, env={"BUGTRAIL_SERVE_WORKERS": "2"})
    server.start()
    try:
        api_processes = _api_processes(server)
        assert len(api_processes) == 2, api_processes
        server.read_first_start_key()
        status, listed = http_json("GET", f"{server.url}/api/keys", key=server.admin_key)
        assert status == 200 and [k["developer_id"] for k in listed] == ["admin"]
        key = server.create_key("dana")
        traces = [server.create_trace(key) for _ in range(6)]
        answers: list[int] = []

        def append_many(trace_id: str) -> None:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as http:
                for i in range(20):
                    event = {"type": "reasoning", "timestamp": f"2026-11-26T10:00:{i:02d}+00:00"}
                    event["details"] = {"text": f"step {i}", "reasoning_type": "plan"}
                    answers.append(http.post(f"/api/traces/{trace_id}/events", json=event).status_code)

        threads = [threading.Thread(target=append_many, args=(trace_id,)) for trace_id in traces]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [200] * 120
        for trace_id in traces:
            status, body = http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)
            assert status == 200 and [e["seq"] for e in body["events"]] == list(range(1, 21))
    finally:
        server.stop()
    assert all(not Path(f"/proc/{pid}").exists() for pid in api_processes)


def _sockets_on(pid: int, port: int, state: str) -> set[str]:
    """The TCP sockets (inodes) on local `port` in `state` ("01" established, "0A" listening) that process
    `pid` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state and fields[9] in inodes:
                found.add(fields[9])
    return found


def test_serve_workers_spreads_connections_over_the_api_processes(tmp_path: Path) -> None:
    """Each API process listens on a socket of its own (SO_REUSEPORT; uvicorn's own mode shares one), and
    the kernel spreads kept-alive connections over them (with a fair spread, one process holding fewer
    than 4 of 32 has a probability of about 3e-6)."""
    server = BugtrailServer(tmp_path / "data", env={"BUGTRAIL_SERVE_WORKERS": "2"})
    server.start()
    clients = [httpx.Client(base_url=server.url) for _ in range(32)]
    try:
        api_processes = _api_processes(server)
        assert len(api_processes) == 2, api_processes
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both processes listening (the first may answer alone)
            listening = [_sockets_on(pid, server.port, "0A") for pid in api_processes]
            if all(listening):
                break
            time.sleep(0.1)
        assert len(listening[0] | listening[1]) == 2, f"one socket shared by both processes: {listening}"
        assert [client.get("/healthz").status_code for client in clients] == [200] * 32
        held = [len(_sockets_on(pid, server.port, "01")) for pid in api_processes]
        assert sum(held) == 32 and min(held) >= 4, held
        # A second server on the same port is refused, not silently given a share of the connections.
        other = subprocess.run(
            [
                sys.executable,
                "-m",
                "bugtrail",
                "serve",
                "--port",
                str(server.port),
                "--workers",
                "2",
                "--no-worker",
            ],
            capture_output=True,
            text=True,
            env=cli_environment(BUGTRAIL_DATA_DIR=str(tmp_path / "other")),
            timeout=60,
        )
        assert other.returncode == 1 and "cannot listen" in other.stderr, other.stderr
    finally:
        for client in clients:
            client.close()
        server.stop()
