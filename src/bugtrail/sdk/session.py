"""A recording session in one git work tree: what `bugtrail start/run/note/snapshot/finish` do.

State lives in the repository's git directory (.git/bugtrail/): the spool (SQLite), the session, the id of
the last recorded tree and the shadow index. The API key never goes there.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from bugtrail.sdk import events as event_format
from bugtrail.sdk.capture import DEFAULT_MAX_OUTPUT_BYTES, CommandResult, run_command
from bugtrail.sdk.client import Client, FlushReport
from bugtrail.sdk.config import ClientConfig
from bugtrail.sdk.locks import FileLock
from bugtrail.sdk.snapshots import GitRepo, changes_between
from bugtrail.sdk.spool import Op, Spool

SESSION_KEY = "session"
TREE_KEY = "recorded_tree"
LAST_TS_KEY = "last_timestamp"


class SessionError(Exception):
    """Something the developer can fix; the message says how."""


@dataclass
class SessionInfo:
    trace_id: str
    bug_description: str
    repo_url: str
    base_commit: str | None
    test_command: str | None
    started_at: str
    server: str

    @classmethod
    def from_json(cls, raw: str) -> SessionInfo:
        return cls(**json.loads(raw))

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


class Recorder:
    def __init__(self, repo: GitRepo, client: Client) -> None:
        self.repo = repo
        self.client = client
        self.spool: Spool = client.spool

    @classmethod
    def open(
        cls, cwd: Path | None = None, config: ClientConfig | None = None, timeout: float = 5.0
    ) -> Recorder:
        repo = GitRepo.discover(cwd)
        client = Client(config=config, spool_path=repo.state_dir / "spool.sqlite3", timeout=timeout)
        return cls(repo, client)

    def close(self) -> None:
        self.client.close()

    # --- session state -------------------------------------------------------------------------------------
    def current(self) -> SessionInfo | None:
        raw = self.spool.get_meta(SESSION_KEY)
        return SessionInfo.from_json(raw) if raw else None

    def require(self) -> SessionInfo:
        session = self.current()
        if session is None:
            raise SessionError(
                'no recording session in this repository: start one with `bugtrail start --bug "..."`'
            )
        return session

    def last_event(self, kind: str) -> str | None:
        return self.spool.get_meta(f"last_event:{kind}")

    # --- verbs ---------------------------------------------------------------------------------------------
    def start(
        self,
        bug_description: str,
        test_command: str | None = None,
        repo_url: str | None = None,
        environment: dict[str, Any] | None = None,
    ) -> tuple[SessionInfo, list[str]]:
        """Create the trace (spooled: works offline) and record edits already in the work tree.

        environment: the developer's Python environment (`capture_environment(work_tree=repo.root)`), or None.
        """
        base_commit = self.repo.head_commit()
        op = Client.create_trace_op(
            repo_url=repo_url or self.repo.remote_url(),
            bug_description=bug_description,
            base_commit=base_commit,
            test_command=test_command,
            environment=environment,
        )
        body = json.loads(op.body)
        session = SessionInfo(
            trace_id=op.trace_id,
            bug_description=bug_description,
            repo_url=body["repo_url"],
            base_commit=base_commit,
            test_command=test_command,
            started_at=_now(),
            server=self.client.config.base_url,
        )
        # The baseline is the base commit, not the work tree: uncommitted changes present now become the
        # first edits, so replaying the trace on base_commit still rebuilds the work tree.
        with self.spool.transaction() as conn:
            existing = conn.execute("SELECT value FROM meta WHERE key = ?", (SESSION_KEY,)).fetchone()
            if existing is not None:
                raise SessionError(
                    f"a session is already recording here (trace {json.loads(existing[0])['trace_id']}): "
                    "`bugtrail finish` or `bugtrail abort` it first"
                )
            Spool.append_in(
                conn,
                [op],
                {SESSION_KEY: session.to_json(), TREE_KEY: self.repo.commit_tree(base_commit)},
            )
            for kind in ("edit", "command", "reasoning"):
                Spool.set_meta_in(conn, f"last_event:{kind}", None)
        edits = self.snapshot(change_note="uncommitted when the session started")
        return session, edits

    def snapshot(self, change_note: str | None = None) -> list[str]:
        """Record one edit event per file changed since the last recorded state; returns their event ids."""
        session = self.require()
        with FileLock(self.repo.state_dir / "snapshot.lock", timeout=120):
            new_tree = self.repo.work_tree_tree()
            with self.spool.transaction() as conn:
                # Read inside the write transaction: a concurrent snapshot (`bugtrail watch`) may have
                # moved it on.
                row = conn.execute("SELECT value FROM meta WHERE key = ?", (TREE_KEY,)).fetchone()
                old_tree = row[0] if row else self.repo.commit_tree(session.base_commit)
                if old_tree == new_tree:
                    return []
                ops = []
                for change in changes_between(self.repo, old_tree, new_tree):
                    details: dict[str, Any] = {"file": change.path, "diff": change.diff, **change.details}
                    if change_note:
                        details["change"] = f"{details['change']} ({change_note})"
                    ops.append(Client.event_op(session.trace_id, "edit", details, timestamp=_stamp(conn)))
                meta: dict[str, str | None] = {TREE_KEY: new_tree}
                if ops:
                    meta["last_event:edit"] = ops[-1].event_id
                Spool.append_in(conn, ops, meta)
            self.repo.protect(new_tree)
        return [str(op.event_id) for op in ops]

    def run(
        self,
        argv: Sequence[str],
        shell: bool = False,
        cwd: Path | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        use_pty: bool | None = None,
    ) -> tuple[CommandResult, list[str]]:
        """Snapshot, run the command live, then record it. Returns the result and the edit event ids."""
        session = self.require()
        edits = self.snapshot()
        floor = self.spool.get_meta(LAST_TS_KEY)
        # Send the edits while the command runs; the command event follows it in the spool anyway.
        flusher = _BackgroundFlush(self.client)
        cwd = Path(cwd or Path.cwd())
        command = argv[0] if shell else shlex.join(argv)
        try:
            result = run_command(
                command if shell else list(argv),
                cwd=str(cwd),
                shell=shell,
                max_output_bytes=max_output_bytes,
                use_pty=use_pty,
            )
        finally:
            flusher.join()
        self.record_command(session, command, cwd, result, floor)
        return result, edits

    def begin_command(self) -> str | None:
        """Snapshot the edits made before a command; returns the floor its event is stamped after."""
        self.snapshot()
        return self.spool.get_meta(LAST_TS_KEY)

    def record_command(
        self, session: SessionInfo, command: str, cwd: Path, result: CommandResult, floor: str | None
    ) -> str:
        """Spool the command event of a finished command (`run` and the recorded shell alike)."""
        details = {
            "command": command,
            "working_directory": self._relative(cwd),
            "exit_code": result.exit_code,
            "duration_ms": result.duration_ms,
            **result.details,
        }
        with self.spool.transaction() as conn:
            # Stamped when it started (edits saved while it ran come after it), yet after the edits before it.
            stamp = _stamp(conn, result.started_at, floor)
            op = Client.event_op(session.trace_id, "command", details, timestamp=stamp)
            Spool.append_in(conn, [op], {"last_event:command": op.event_id})
        return str(op.event_id)

    def note(
        self,
        text: str,
        reasoning_type: str = "observation",
        confidence: str | None = None,
        refers_to: Sequence[str] = (),
    ) -> tuple[str, list[str]]:
        session = self.require()
        edits = self.snapshot()  # edits made before the note come before it
        resolved = [self._resolve_reference(item) for item in refers_to]
        details: dict[str, Any] = {"text": text, "reasoning_type": reasoning_type}
        if confidence:
            details["confidence"] = confidence
        if resolved:
            details["refers_to"] = resolved
        with self.spool.transaction() as conn:
            op = Client.event_op(session.trace_id, "reasoning", details, timestamp=_stamp(conn))
            Spool.append_in(conn, [op], {"last_event:reasoning": op.event_id})
        return str(op.event_id), edits

    def finish(self, flush_deadline: float = 20.0) -> tuple[SessionInfo, list[str], FlushReport]:
        """Final snapshot, finalize (spooled), send everything, end the session locally."""
        session = self.require()
        edits = self.snapshot()
        with self.spool.transaction() as conn:
            Spool.append_in(
                conn,
                [Op("finalize", session.trace_id, "{}")],
                {SESSION_KEY: None, "last_session": session.to_json()},
            )
        self.repo.protect(None)
        report = self.client.flush(deadline=flush_deadline)
        return session, edits, report

    def abort(self) -> tuple[SessionInfo, int]:
        """Forget the session and drop its unsent events (the trace, if already created, stays pending)."""
        session = self.require()
        with FileLock(self.repo.state_dir / "snapshot.lock", timeout=120):
            dropped = self.spool.discard_trace(session.trace_id)
            self.spool.set_meta(SESSION_KEY, None)
            self.repo.protect(None)
        return session, dropped

    def sync(self, deadline: float | None = 30.0, force: bool = True) -> FlushReport:
        return self.client.flush(deadline=deadline, force=force)

    def last_session(self) -> SessionInfo | None:
        raw = self.spool.get_meta("last_session")
        return SessionInfo.from_json(raw) if raw else None

    # --- helpers -------------------------------------------------------------------------------------------
    def _relative(self, cwd: Path) -> str:
        try:
            rel = os.path.relpath(cwd.resolve(), self.repo.root.resolve())
        except ValueError:
            return str(cwd)
        return "." if rel == "." else rel if not rel.startswith("..") else str(cwd)

    def _resolve_reference(self, item: str) -> str:
        aliases = {"last": None, "last-command": "command", "last-edit": "edit", "last-note": "reasoning"}
        if item not in aliases:
            import uuid

            try:
                return str(uuid.UUID(item))
            except ValueError:
                raise SessionError(
                    f"--refers-to {item}: not an event id "
                    "(use one, or last, last-command, last-edit, last-note)"
                ) from None
        kinds = [aliases[item]] if aliases[item] else ["command", "edit", "reasoning"]
        for kind in kinds:
            found = self.last_event(str(kind))
            if found:
                return found
        raise SessionError(f"--refers-to {item}: no such event recorded yet in this session")


class _BackgroundFlush:
    """Best-effort send in a thread while the wrapped command runs (never delays or fails the command)."""

    def __init__(self, client: Client) -> None:
        import threading

        self.report: FlushReport | None = None
        self._thread = threading.Thread(target=self._run, args=(client,), daemon=True)
        self._thread.start()

    def _run(self, client: Client) -> None:
        try:
            self.report = client.flush(deadline=3.0, force=False)
        except Exception:
            self.report = None

    def join(self) -> None:
        self._thread.join(timeout=5.0)


def _stamp(conn: sqlite3.Connection, candidate: str | None = None, floor: str | None = None) -> str:
    """A timestamp later than every event recorded before (or than `floor`), kept in the spool.

    The server orders a trace's events by timestamp: a clock stepping back (NTP, suspend, a VM) must not
    reorder edits, or replaying them breaks. All stamps are UTC with microseconds, so strings compare.
    """
    stamp = candidate or event_format.now_iso()
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (LAST_TS_KEY,)).fetchone()
    last = str(row[0]) if row else None
    bound = floor if floor is not None else last
    if bound and stamp <= bound:
        stamp = _one_microsecond_after(bound)
    if last is None or stamp > last:
        Spool.set_meta_in(conn, LAST_TS_KEY, stamp)
    return stamp


def _one_microsecond_after(stamp: str) -> str:
    from datetime import datetime, timedelta

    later = datetime.fromisoformat(stamp) + timedelta(microseconds=1)
    return later.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> str:
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
