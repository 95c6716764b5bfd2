"""Edits of every shape and awkward command output, recorded through the CLI into a real server."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.recorder import (
    bugtrail,
    cli_env,
    developer_key,
    get_trace,
    replay,
    session_trace_id,
    work_tree_files,
)
from tests.support.repos import make_repo, write_files
from tests.support.server import BugtrailServer

PNG = bytes(range(256)) * 8  # NUL bytes: git treats it as binary


@pytest.fixture(scope="module")
def key(server: BugtrailServer) -> str:
    return developer_key(server, "frank")


def test_new_deleted_renamed_binary_and_many_edits(server: BugtrailServer, key: str, tmp_path: Path) -> None:
    long_module = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
    repo = make_repo(
        tmp_path / "repo",
        {
            "notes.txt": "v0\n",
            "old_name.py": long_module,
            "gone.txt": "bye\n",
            "logo.png": PNG,
            ".gitignore": "build/\n",
        },
    )
    env = cli_env(server.url, key, tmp_path)
    (repo / "uncommitted.txt").write_text("present before start\n")
    assert bugtrail(repo, env, "start", "--bug", "file shapes").returncode == 0

    for i in range(1, 60):  # many saves between two snapshots: one edit
        (repo / "notes.txt").write_text("".join(f"v{j}\n" for j in range(i + 1)))
    snap = bugtrail(repo, env, "snapshot")
    assert snap.returncode == 0 and b"Recorded 1 edit" in snap.stdout

    os.rename(repo / "old_name.py", repo / "new_name.py")
    (repo / "new_name.py").write_text(long_module.replace("x + 3\n", "x + 33\n"))
    (repo / "gone.txt").unlink()
    (repo / "logo.png").write_bytes(PNG[::-1])
    write_files(
        repo,
        {
            "pkg/dir with space/naïve.txt": "unicode path\n",
            "pkg/empty.txt": "",
            "new.bin": b"\x00\x01" * 100,
            "build/ignored.o": b"\x7fELF",
            "pkg/__pycache__/x.cpython-311.pyc": b"\x00junk",
        },
    )
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    assert bugtrail(repo, env, "snapshot").returncode == 0
    (repo / "notes.txt").unlink()  # deleted after having been edited in the same session
    assert bugtrail(repo, env, "finish").returncode == 0

    trace = get_trace(server, key, session_trace_id(repo))
    edits = [e["details"] for e in trace["events"]]
    assert all(e["type"] == "edit" for e in trace["events"])
    by_file: dict[str, list[dict]] = {}
    for edit in edits:
        by_file.setdefault(edit["file"], []).append(edit)
    assert set(by_file) == {
        "uncommitted.txt",
        "notes.txt",
        "new_name.py",
        "gone.txt",
        "logo.png",
        "pkg/dir with space/naïve.txt",
        "pkg/empty.txt",
        "new.bin",
        "run.sh",
    }
    assert "uncommitted when the session started" in by_file["uncommitted.txt"][0]["change"]
    assert [e.get("deleted", False) for e in by_file["notes.txt"]] == [False, True]
    assert "+v59" in by_file["notes.txt"][0]["diff"]
    renamed = by_file["new_name.py"][0]
    assert renamed["renamed_from"] == "old_name.py" and "+    return x + 33" in renamed["diff"]
    assert by_file["gone.txt"][0]["deleted"] is True
    assert by_file["pkg/empty.txt"][0]["new_file"] is True
    for binary in ("logo.png", "new.bin"):
        assert by_file[binary][0]["binary"] is True and "@@" not in by_file[binary][0]["diff"]
    assert "new file mode 100755" in by_file["run.sh"][0]["diff"]

    # Text and binary edits together rebuild the tree when the blobs are at hand (shared object database).
    replayed = replay(repo, trace["base_commit"], trace["events"], tmp_path / "replay", shared=True)
    assert work_tree_files(replayed) == work_tree_files(repo)
    assert os.access(replayed / "run.sh", os.X_OK)
    # On a plain clone (as QA sees it) every text edit applies on its own.
    text_only = [e for e in trace["events"] if not e["details"].get("binary")]
    clone = replay(repo, trace["base_commit"], text_only, tmp_path / "clone")
    assert (clone / "new_name.py").read_text() == (repo / "new_name.py").read_text()


GENERATE = """
import sys
out = sys.stdout.buffer
out.write(b"FIRST LINE\\n")
block = (b"0123456789abcdef" * 4096)  # 64 KiB
for _ in range(800):  # 50 MiB
    out.write(block)
out.write(b"\\nLAST LINE\\n")
"""


def test_50_mb_output_is_capped_in_the_event_and_untouched_on_the_terminal(
    server: BugtrailServer, key: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    env = cli_env(server.url, key, tmp_path)
    assert bugtrail(repo, env, "start", "--bug", "loud").returncode == 0
    terminal = tmp_path / "terminal.out"
    measure = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'wb') as out:\n"
        "    rc = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            measure,
            str(terminal),
            sys.executable,
            "-m",
            "bugtrail",
            "run",
            "--",
            sys.executable,
            "-c",
            GENERATE,
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rc, max_rss_kib = map(int, proc.stdout.split())
    assert rc == 0
    assert max_rss_kib < 200 * 1024, f"peak RSS {max_rss_kib} KiB: the capture must not hold the output"
    raw = terminal.read_bytes()
    expected_size = len(b"FIRST LINE\n") + 800 * 65536 + len(b"\nLAST LINE\n")
    assert len(raw) == expected_size and raw.startswith(b"FIRST LINE\n") and raw.endswith(b"LAST LINE\n")

    assert bugtrail(repo, env, "sync").returncode == 0
    command = get_trace(server, key, session_trace_id(repo))["events"][-1]["details"]
    assert command["output_truncated"] is True and command["output_original_bytes"] == expected_size
    assert len(command["output"].encode()) < 1024 * 1024
    assert command["output"].startswith("FIRST LINE\n") and command["output"].endswith("LAST LINE\n")
    assert "bytes of output omitted" in command["output"]


def test_non_utf8_output_is_recorded_with_replacement_and_passed_through_raw(
    server: BugtrailServer, key: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    env = cli_env(server.url, key, tmp_path)
    assert bugtrail(repo, env, "start", "--bug", "latin-1").returncode == 0
    proc = bugtrail(
        repo,
        env,
        "run",
        "--",
        sys.executable,
        "-c",
        "import sys; sys.stdout.buffer.write(b'caf\\xe9 \\xff ok\\n'); sys.exit(3)",
    )
    assert proc.returncode == 3 and proc.stdout == b"caf\xe9 \xff ok\n"
    assert bugtrail(repo, env, "sync").returncode == 0
    command = get_trace(server, key, session_trace_id(repo))["events"][-1]["details"]
    assert command["output"] == "caf\ufffd \ufffd ok\n" and "non-utf-8" in command["output_encoding"]
    assert command["exit_code"] == 3


def test_run_in_a_terminal_uses_a_pty_and_keeps_colours(
    server: BugtrailServer, key: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    env = cli_env(server.url, key, tmp_path)
    assert bugtrail(repo, env, "start", "--bug", "tty").returncode == 0
    script = (
        "import sys, os; print('tty' if os.isatty(1) else 'pipe', os.get_terminal_size(1).columns);"
        "print('\\x1b[31mred\\x1b[0m')"
    )
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 123, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugtrail", "run", "--", sys.executable, "-c", script],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=60) == 0
    os.close(master)
    assert b"tty 123" in seen and b"\x1b[31mred\x1b[0m" in seen  # colours reach the terminal
    assert bugtrail(repo, env, "sync").returncode == 0
    command = get_trace(server, key, session_trace_id(repo))["events"][-1]["details"]
    assert command["output"] == "tty 123\nred\n" and command["ansi_stripped"] is True
