"""`bugtrail shell` driven through tmux like a developer at a real terminal, in bash and in zsh."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.recorder import BUGGY, TEST, bugtrail, cli_env, developer_key, get_trace, session_trace_id
from tests.support.repos import make_repo
from tests.support.server import BugtrailServer

pytestmark = pytest.mark.slow

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider tests"
PROMPT = "(bugtrail) "
SECRET = "Zq8rT2vLx9Kp4Wm7Yc3N"
APPEND = "echo '# fixed' >> calc.py"


class Terminal:
    """One tmux pane (a private tmux server) running a command; keys in, screen text out."""

    def __init__(self, socket: Path, cwd: Path, env: dict[str, str], command: str) -> None:
        self.socket = str(socket)
        self.env = env
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "150",
            "-y",
            "45",
            "-c",
            str(cwd),
            command,
        )
        self._tmux("set-option", "-g", "history-limit", "10000")

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-10000", "-t", "t").stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def type_line(self, line: str) -> None:
        self.keys(line, literal=True)
        self.keys("Enter")

    def wait_for(self, predicate: object, what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if callable(predicate) and predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def prompts(self) -> int:
        return self.screen().count(PROMPT)

    def run(self, line: str, timeout: float = 60) -> None:
        before = self.prompts()
        self.type_line(line)
        self.wait_for(lambda text: text.count(PROMPT) > before, f"the prompt after {line!r}", timeout)

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", "t").returncode == 0

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def key(server: BugtrailServer) -> str:
    return developer_key(server, "shelly")


def _session_open(repo: Path) -> bool:
    conn = sqlite3.connect(repo / ".git" / "bugtrail" / "spool.sqlite3")
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'session'").fetchone()[0] is not None
    finally:
        conn.close()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_recorded_shell_session(server: BugtrailServer, key: str, tmp_path: Path, shell: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rc = ".bashrc" if shell == "bash" else ".zshrc"
    (home / rc).write_text("export BT_RC_LOADED=yes\nHISTCONTROL=ignoreboth\nHISTIGNORE='cd *:ls'\n")
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": TEST})
    env = cli_env(server.url, key, tmp_path)
    env.update(HOME=str(home), SHELL=f"/bin/{shell}", TERM="xterm-256color")
    assert bugtrail(repo, env, "start", "--bug", "add() subtracts").returncode == 0

    command = f"{shlex.quote(sys.executable)} -m bugtrail shell"
    term = Terminal(tmp_path / "tmux.sock", repo, env, command)
    try:
        term.wait_for(lambda text: PROMPT in text, "the recorded shell's first prompt")
        assert "recording every command into trace" in term.screen()  # the banner
        term.run(PYTEST)  # fails: add() subtracts
        term.run("cd tests")
        term.run("echo rc-$BT_RC_LOADED | tr a-z A-Z")
        term.run("echo not-me #bugtrail:skip")
        before = term.prompts()
        term.type_line("vi ../calc.py")
        term.wait_for(lambda text: sum(line.startswith("~") for line in text.splitlines()) > 3, "vi's screen")
        term.type_line(":%s/a - b/a + b/")
        term.type_line(":wq")
        term.wait_for(lambda text: text.count(PROMPT) > before, "the prompt after vi")
        before = term.prompts()
        term.type_line("sleep 30")
        time.sleep(1.0)
        term.keys("C-c")
        term.wait_for(lambda text: text.count(PROMPT) > before, "the prompt after Ctrl-C", timeout=10)
        before = term.prompts()
        term.type_line("sleep 31")
        time.sleep(1.0)
        term.keys("C-z")  # job control: the shell owns its terminal
        term.wait_for(lambda text: text.count(PROMPT) > before, "the prompt after Ctrl-Z", timeout=10)
        term.run("kill %1")
        term.run("cd ..")
        term.run(APPEND)  # a command's own edit is recorded after it
        term.run(PYTEST)  # passes now
        term.run(f" export X_TOKEN={SECRET}")  # a leading space: kept out of the shell's history as usual
        term.run(f"echo curl -H 'Authorization: Bearer {SECRET}'")
        term.type_line("exit")
        deadline = time.monotonic() + 30
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive(), "the recorded shell did not exit"
    finally:
        term.close()

    assert _session_open(repo), "leaving the shell must leave the session open"
    assert "def add(a, b):\n    return a + b" in (repo / "calc.py").read_text()
    assert (repo / "calc.py").read_text().endswith("# fixed\n")
    assert bugtrail(repo, env, "finish").returncode == 0
    trace = get_trace(server, key, session_trace_id(repo))
    events = trace["events"]
    steps = [
        (e["type"], e["details"]["command"] if e["type"] == "command" else e["details"]["file"])
        for e in events
    ]
    assert steps == [
        ("command", PYTEST),
        ("command", "cd tests"),
        ("command", "echo rc-$BT_RC_LOADED | tr a-z A-Z"),
        ("command", "vi ../calc.py"),
        ("edit", "calc.py"),
        ("command", "sleep 30"),
        ("command", "sleep 31"),
        ("command", "kill %1"),
        ("command", "cd .."),
        ("command", APPEND),
        ("edit", "calc.py"),
        ("command", PYTEST),
        ("command", "export X_TOKEN=[REDACTED:credential]"),
        ("command", "echo curl -H 'Authorization: Bearer [REDACTED:authorization]'"),
    ], steps
    commands = [e["details"] for e in events if e["type"] == "command"]
    assert [c["exit_code"] for c in commands] == [1, 0, 0, 0, 130, 148, 0, 0, 0, 0, 0, 0]
    places = [".", ".", "tests", "tests", "tests", "tests", "tests", "tests", ".", ".", ".", "."]
    assert [c["working_directory"] for c in commands] == places
    assert "1 failed" in commands[0]["output"] and "1 passed" in commands[9]["output"]
    assert commands[2]["output"].strip() == "RC-YES"
    assert commands[3].get("interactive") is True
    assert "return a - b" not in commands[3]["output"]  # vi's screen is not kept
    assert commands[4]["duration_ms"] >= 900
    assert all("\r" not in c["output"] and "\x1b" not in c["output"] for c in commands)
    edit, appended = (e for e in events if e["type"] == "edit")
    assert "-    return a - b" in edit["details"]["diff"] and "+    return a + b" in edit["details"]["diff"]
    assert "+# fixed" in appended["details"]["diff"]
    assert commands[-1]["output"].strip() == "curl -H Authorization: Bearer [REDACTED:authorization]"
    # The raw secret went into the spool (the server redacts) and nowhere else on disk: not the start-up
    # files, not the server's database. The shell's own history keeps what it always keeps, except the
    # command typed with a leading space (HISTCONTROL=ignoreboth).
    history = home / ".bash_history"
    if shell == "bash":
        kept = history.read_text()
        assert "echo rc-" in kept and "X_TOKEN" not in kept and "cd tests" not in kept
    spool = repo / ".git" / "bugtrail"
    for root in (tmp_path, server.data_dir):
        for path in root.rglob("*"):
            if path.is_file() and spool not in path.parents and path != history:
                assert SECRET.encode() not in path.read_bytes(), path


def test_no_output_records_the_commands_only(server: BugtrailServer, key: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY})
    env = cli_env(server.url, key, tmp_path)
    env.update(HOME=str(home), SHELL="/bin/bash", TERM="xterm-256color")
    assert bugtrail(repo, env, "start", "--bug", "quiet please").returncode == 0
    term = Terminal(
        tmp_path / "tmux.sock", repo, env, f"{shlex.quote(sys.executable)} -m bugtrail shell --no-output"
    )
    try:
        term.wait_for(lambda text: PROMPT in text, "the recorded shell's first prompt")
        term.run("echo visible-on-screen; false")
        assert "visible-on-screen" in term.screen()  # the terminal still shows everything
        term.type_line("exit")
        deadline = time.monotonic() + 30
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        term.close()
    assert bugtrail(repo, env, "finish").returncode == 0
    events = get_trace(server, key, session_trace_id(repo))["events"]
    assert [e["details"]["command"] for e in events] == ["echo visible-on-screen; false"]
    assert events[0]["details"]["exit_code"] == 1
    assert events[0]["details"]["output"] == "" and events[0]["details"]["output_recorded"] is False


def test_shell_refuses_clearly_without_a_terminal_or_when_nested(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"calc.py": BUGGY})
    env = cli_env("http://127.0.0.1:9", None, tmp_path)
    proc = bugtrail(repo, env, "shell", input=b"")
    assert proc.returncode == 2 and b"needs a terminal" in proc.stderr
    proc = bugtrail(repo, {**env, "BUGTRAIL_SHELL": "1"}, "shell")
    assert proc.returncode == 2 and b"already inside `bugtrail shell`" in proc.stderr
    proc = bugtrail(repo, env, "shell", "--shell", "/usr/bin/fish")
    assert proc.returncode == 2 and b"supports bash and zsh" in proc.stderr
