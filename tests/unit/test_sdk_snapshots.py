"""Snapshots against a real git repository, offline (the spool holds the events; no server needed)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bugtrail.sdk.config import ClientConfig
from bugtrail.sdk.session import Recorder, SessionError
from tests.support.recorder import SRC, replay, work_tree_files
from tests.support.repos import make_repo

OFFLINE = ClientConfig(server="http://127.0.0.1:9", api_key="unused")  # port 9 (discard): nothing listens


def spooled_events(recorder: Recorder) -> list[dict]:
    return [json.loads(op.body) for op in recorder.spool.peek(100_000, 10**12) if op.kind == "event"]


@pytest.fixture
def recorder(tmp_path: Path):  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {"a.txt": "one\ntwo\nthree\n", "src/m.py": "x = 1\n"})
    rec = Recorder.open(repo, config=OFFLINE)
    yield rec
    rec.close()


def test_random_edit_sessions_replay_to_the_work_tree(tmp_path: Path) -> None:
    for seed in range(3):
        root = make_repo(tmp_path / f"repo{seed}", {f"f{i}.txt": f"line {i}\n" * 5 for i in range(6)})
        rec = Recorder.open(root, config=OFFLINE)
        rec.start("random edits")
        rng = random.Random(seed)
        for _ in range(25):
            files = sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
            action = rng.choice(["edit", "edit", "create", "delete", "rename", "binary"])
            target = rng.choice(files) if files else None
            if action == "edit" and target:
                lines = target.read_bytes().splitlines(keepends=True)
                lines.insert(rng.randrange(len(lines) + 1), f"edit {rng.random()}\n".encode())
                target.write_bytes(b"".join(lines))
            elif action == "create":
                new = root / f"d{rng.randrange(3)}" / f"new{rng.randrange(10**6)}.txt"
                new.parent.mkdir(exist_ok=True)
                new.write_text("fresh\n" * rng.randrange(1, 4))
            elif action == "delete" and target:
                target.unlink()
            elif action == "rename" and target:
                target.rename(root / f"renamed{rng.randrange(10**6)}{target.suffix}")
            elif action == "binary":
                (root / "blob.bin").write_bytes(bytes(rng.randrange(256) for _ in range(300)) + b"\0")
            if rng.random() < 0.4:
                rec.snapshot()
        rec.snapshot()
        events = spooled_events(rec)
        base = rec.require().base_commit
        assert base is not None
        replayed = replay(root, base, events, tmp_path / f"replay{seed}", shared=True)
        assert work_tree_files(replayed) == work_tree_files(root), f"seed {seed}"
        rec.close()


def test_editor_and_interpreter_droppings_are_not_edits(recorder: Recorder) -> None:
    recorder.start("bug")
    root = recorder.repo.root
    for junk in (
        "src/.m.py.swp",
        "src/m.py~",
        "src/.#m.py",
        "src/__pycache__/m.cpython-311.pyc",
        ".pytest_cache/v/cache/lastfailed",
    ):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_bytes(b"\0junk")
    (root / "src" / "m.py").write_text("x = 2\n")
    recorder.snapshot()
    assert [e["details"]["file"] for e in spooled_events(recorder)] == ["src/m.py"]


def test_git_gc_prune_now_cannot_break_the_next_snapshot(recorder: Recorder, tmp_path: Path) -> None:
    recorder.start("bug")
    root = recorder.repo.root
    (root / "a.txt").write_text("uncommitted, only in the recorded tree\n")
    recorder.snapshot()
    subprocess.run(["git", "gc", "--prune=now", "-q"], cwd=root, check=True)
    (root / "a.txt").write_text("edited again\n")
    assert len(recorder.snapshot()) == 1
    base = recorder.require().base_commit
    assert base is not None
    replayed = replay(root, base, spooled_events(recorder), tmp_path / "replay")
    assert work_tree_files(replayed) == work_tree_files(root)


def test_a_clock_stepping_back_cannot_reorder_events(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugtrail.sdk import events

    recorder.start("bug")
    root = recorder.repo.root
    (root / "a.txt").write_text("first\n")
    recorder.note("before the clock jump")
    monkeypatch.setattr(events, "now_iso", lambda: "2001-01-01T00:00:00.000000+00:00")
    (root / "a.txt").write_text("second\n")
    (root / "b.txt").write_text("new\n")
    recorder.run([sys.executable, "-c", "pass"], use_pty=False)
    recorder.note("after it")
    spooled = spooled_events(recorder)
    stamps = [e["timestamp"] for e in spooled]
    assert len(spooled) == 6 and stamps == sorted(stamps) and len(set(stamps)) == 6
    # Replaying in timestamp order (as the server lists events) still rebuilds the tree.
    base = recorder.require().base_commit
    assert base is not None
    by_time = sorted(spooled, key=lambda e: e["timestamp"])
    assert work_tree_files(replay(root, base, by_time, tmp_path / "replay")) == work_tree_files(root)


def test_uncommitted_changes_at_start_become_the_first_edits(recorder: Recorder) -> None:
    (recorder.repo.root / "a.txt").write_text("changed before start\n")
    _, edits = recorder.start("bug")
    events = spooled_events(recorder)
    assert len(edits) == 1 and events[0]["details"]["file"] == "a.txt"
    assert recorder.snapshot() == []  # nothing new since


def test_symlink_and_mode_changes(recorder: Recorder, tmp_path: Path) -> None:
    recorder.start("bug")
    root = recorder.repo.root
    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to("src/m.py")  # file -> symlink: a type change
    (root / "src" / "m.py").chmod(0o755)
    recorder.snapshot()
    events = spooled_events(recorder)
    assert {e["details"]["file"] for e in events} == {"a.txt", "src/m.py"}
    base = recorder.require().base_commit
    assert base is not None
    replayed = replay(root, base, events, tmp_path / "replay")
    assert os.readlink(replayed / "a.txt") == "src/m.py" and os.access(replayed / "src" / "m.py", os.X_OK)


def test_commands_and_notes_interleave_with_edits_in_true_order(recorder: Recorder) -> None:
    recorder.start("bug")
    root = recorder.repo.root
    (root / "a.txt").write_text("first\n")
    recorder.run([sys.executable, "-c", "print('hi')"], use_pty=False)
    (root / "a.txt").write_text("second\n")
    recorder.note("why", reasoning_type="rationale", refers_to=["last-command"])
    kinds = [(e["type"], e["details"].get("file")) for e in spooled_events(recorder)]
    assert kinds == [("edit", "a.txt"), ("command", None), ("edit", "a.txt"), ("reasoning", None)]
    command_id = recorder.last_event("command")
    assert spooled_events(recorder)[-1]["details"]["refers_to"] == [command_id]
    with pytest.raises(SessionError):
        recorder.note("x", refers_to=["last-nonsense-but-not-alias-and-not-uuid"])


def test_abort_discards_unsent_events_and_the_session(recorder: Recorder) -> None:
    recorder.start("bug")
    (recorder.repo.root / "a.txt").write_text("x\n")
    recorder.snapshot()
    _, dropped = recorder.abort()
    assert dropped == 2 and recorder.current() is None and recorder.spool.pending_count() == 0
    with pytest.raises(SessionError, match="bugtrail start"):
        recorder.snapshot()


SNAPSHOTTER = """
import sys
from bugtrail.sdk.config import ClientConfig
from bugtrail.sdk.session import Recorder
rec = Recorder.open(__import__("pathlib").Path(sys.argv[1]), config=ClientConfig(server="http://127.0.0.1:9"))
for _ in range(15):
    rec.snapshot()
"""


def test_concurrent_snapshots_never_record_an_edit_twice(recorder: Recorder, tmp_path: Path) -> None:
    recorder.start("bug")
    root = recorder.repo.root
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SNAPSHOTTER, str(root)], env={**os.environ, "PYTHONPATH": SRC}
        )
        for _ in range(3)
    ]
    for i in range(30):
        (root / "a.txt").write_text(f"version {i}\n")
        (root / f"n{i % 4}.txt").write_text(f"{i}\n")
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    recorder.snapshot()
    base = recorder.require().base_commit
    assert base is not None
    replayed = replay(root, base, spooled_events(recorder), tmp_path / "replay")
    assert work_tree_files(replayed) == work_tree_files(root)
