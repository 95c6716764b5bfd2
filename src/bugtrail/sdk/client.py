"""The public SDK: `Client` records traces through a durable spool and talks to the bugtrail server.

Every write (create trace, event, finalize) is first committed to the on-disk spool and only then sent, in
batches, in order, with retries. The server deduplicates on trace_id/event_id, so resending after a crash,
a timeout or an outage is harmless. One Client per developer; it is thread-safe.

    from bugtrail import Client
    client = Client("http://127.0.0.1:8000", api_key="...", spool_path="/tmp/dev1.sqlite3")
    trace_id = client.create_trace(repo_url=..., bug_description="...", base_commit=sha)
    client.note(trace_id, "the cache key ignores the locale", reasoning_type="hypothesis")
    # optional: environment=capture_environment(work_tree=".") on create_trace (bugtrail.sdk.environment)
    client.flush()
    client.finalize(trace_id, wait=600)
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack

from bugtrail.sdk.config import ClientConfig, load_config, state_home
from bugtrail.sdk.events import make_event, to_json
from bugtrail.sdk.locks import FileLock, LockTimeout
from bugtrail.sdk.spool import Op, Spool, SpooledOp
from bugtrail.sdk.transport import ApiError, Transport, TransportError

MiB = 1024 * 1024
FINAL_STATUSES = ("completed", "failed")


def default_spool_path(config: ClientConfig) -> Path:
    """One spool per server and key: ops are sent with the key of the Client that spooled them."""
    import hashlib

    identity = hashlib.sha256(f"{config.base_url}\n{config.api_key or ''}".encode()).hexdigest()[:16]
    return state_home() / f"spool-{identity}.sqlite3"


class NewTrace(TypedDict, total=False):
    """The fields of a new trace (Client.create_trace_op's keywords)."""

    repo_url: Required[str]
    bug_description: Required[str]
    base_commit: str | None
    test_command: str | None
    trace_id: str | None
    environment: dict[str, Any] | None


class GivenIds(TypedDict, total=False):
    """An event's own id and timestamp when the caller has them (Client.event_op's keywords)."""

    event_id: str | None
    timestamp: str | None


class AuthError(Exception):
    """The server refused the API key; nothing is dropped, the spool waits for a valid key."""


@dataclass
class FlushReport:
    sent: int = 0  # ops the server acknowledged in this flush (new + duplicates)
    duplicates: int = 0
    rejected: list[tuple[str, str | None, str]] = field(default_factory=list)  # (kind, event_id, error)
    pending: int = 0
    error: str | None = None  # why sending stopped early (server unreachable...)
    skipped: bool = False  # not attempted: backing off after recent failures, or another process sends


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        spool_path: str | Path | None = None,
        timeout: float = 10.0,
        max_batch_events: int = 500,
        max_batch_bytes: int = 8 * MiB,
        config: ClientConfig | None = None,
    ) -> None:
        self.config = config or load_config(base_url, api_key)
        self.transport = Transport(self.config.base_url, self.config.api_key, timeout=timeout)
        path = Path(spool_path) if spool_path else default_spool_path(self.config)
        self.spool = Spool(path)
        self._send_lock_path = path.with_name(path.name + ".send.lock")
        self._thread_lock = threading.Lock()
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()
        self.spool.close()

    # --- reads (direct, not spooled) ------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        return self._get("/api/whoami")

    def get_trace(self, trace_id: str, timeout: float | None = None) -> dict[str, Any]:
        return self._get(f"/api/traces/{trace_id}", timeout=timeout)

    def _get(self, path: str, timeout: float | None = None) -> dict[str, Any]:
        try:
            body: dict[str, Any] = self.transport.request("GET", path, timeout=timeout).body
            return body
        except ApiError as exc:
            if exc.status in (401, 403):
                raise AuthError(exc.error) from exc
            raise

    # --- writes (spooled first) -----------------------------------------------------------------------------
    def create_trace(self, *, flush: bool = True, **trace: Unpack[NewTrace]) -> str:
        """Spool (and by default send) a new trace: create_trace_op's fields (repo_url and bug_description
        required). environment: see `capture_environment()`."""
        op = self.create_trace_op(**trace)
        self.spool.append([op])
        if flush:
            self.flush(deadline=self.transport.timeout)
        return op.trace_id

    @staticmethod
    def create_trace_op(
        *,
        repo_url: str,
        bug_description: str,
        base_commit: str | None = None,
        test_command: str | None = None,
        trace_id: str | None = None,
        environment: dict[str, Any] | None = None,
    ) -> Op:
        trace_id = str(uuid.UUID(trace_id)) if trace_id else str(uuid.uuid4())
        body: dict[str, Any] = {
            "trace_id": trace_id,
            "repo_url": repo_url,
            "bug_description": bug_description,
        }
        if base_commit:
            body["base_commit"] = base_commit
        if test_command:
            body["test_command"] = test_command
        if environment is not None:
            body["environment"] = environment
        return Op("create_trace", trace_id, to_json(body))

    @staticmethod
    def event_op(
        trace_id: str,
        event_type: str,
        details: dict[str, Any],
        *,
        event_id: str | None = None,
        timestamp: str | None = None,
    ) -> Op:
        event = make_event(event_type, dict(details), event_id=event_id, timestamp=timestamp)
        return Op("event", str(uuid.UUID(trace_id)), to_json(event), event_id=event["event_id"])

    def append_event(
        self, trace_id: str, event_type: str, details: dict[str, Any], **given: Unpack[GivenIds]
    ) -> str:
        """Spool one event (durable on return) and return its event_id; `flush()` sends it."""
        op = self.event_op(trace_id, event_type, details, **given)
        self.spool.append([op])
        return str(op.event_id)

    def append_events(self, trace_id: str, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Spool several (type, details) events in one transaction (one fsync); returns their event_ids."""
        ops = [self.event_op(trace_id, event_type, details) for event_type, details in events]
        self.spool.append(ops)
        return [str(op.event_id) for op in ops]

    def edit(self, trace_id: str, file: str, diff: str, **extra: Any) -> str:
        return self.append_event(trace_id, "edit", {"file": file, "diff": diff, **extra})

    def command(
        self, trace_id: str, command: str, output: str = "", exit_code: int | None = None, **extra: Any
    ) -> str:
        return self.append_event(
            trace_id, "command", {"command": command, "output": output, "exit_code": exit_code, **extra}
        )

    def note(
        self,
        trace_id: str,
        text: str,
        reasoning_type: str = "observation",
        confidence: str | None = None,
        refers_to: list[str] | None = None,
    ) -> str:
        details: dict[str, Any] = {"text": text, "reasoning_type": reasoning_type}
        if confidence:
            details["confidence"] = confidence
        if refers_to:
            details["refers_to"] = list(refers_to)
        return self.append_event(trace_id, "reasoning", details)

    def finalize(
        self, trace_id: str, *, wait: float | None = None, poll_interval: float = 1.0
    ) -> dict[str, Any] | None:
        """Spool the finalize, send everything; with wait, poll until QA finished (or wait seconds passed)."""
        self.spool.append([Op("finalize", str(uuid.UUID(trace_id)), "{}")])
        report = self.flush(deadline=None)
        if report.pending:
            return None
        if not wait:
            raw = self.spool.get_meta(f"finalized:{trace_id}")
            return json.loads(raw) if raw else None
        return self.wait_for_qa(trace_id, wait, poll_interval)

    def wait_for_qa(self, trace_id: str, timeout: float, poll_interval: float = 1.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            trace = self.get_trace(trace_id)
            if trace.get("status") in FINAL_STATUSES or time.monotonic() >= end:
                return trace
            time.sleep(poll_interval)

    def pending(self, trace_id: str | None = None) -> int:
        return self.spool.pending_count(trace_id)

    # --- sending --------------------------------------------------------------------------------------------
    def flush(self, *, deadline: float | None = 10.0, force: bool = True) -> FlushReport:
        """Send spooled ops in order until the spool is empty, the server is unreachable or deadline passes.

        deadline=None sends everything and retries every transient failure (unreachable server too) for up
        to a minute; with a deadline, sending stops when it passes, an unreachable server ends the flush at
        once and only overload answers (5xx, 429) are retried.
        force=False respects the backoff left by earlier failed flushes (the CLI's automatic drains use it,
        so an outage costs nothing per command).
        Raises AuthError when the key is refused (nothing is dropped).
        """
        report = FlushReport()
        budget = 60.0 if deadline is None else deadline
        end = time.monotonic() + budget
        if not force and self._backing_off():
            report.skipped = True
            report.pending = self.spool.pending_count()
            return report
        # Another process sending drains our ops too (it loops until the spool is empty): an automatic
        # flush need not queue behind it.
        lock_timeout = budget if force else min(budget, 0.5)
        try:
            with self._thread_lock, FileLock(self._send_lock_path, timeout=lock_timeout):
                self._drain(report, end, patient=deadline is None)
        except LockTimeout:
            report.skipped = True
        report.pending = self.spool.pending_count()
        return report

    def _backing_off(self) -> bool:
        retry_after = self.spool.get_meta("retry_after")
        return retry_after is not None and time.time() < float(retry_after)

    def _drain(self, report: FlushReport, end: float, patient: bool) -> None:
        delay = 0.2
        while True:
            if not patient and time.monotonic() > end:
                return  # a long backlog after an outage must not hold up the developer's command
            batch = self._next_batch()
            if not batch:
                if self.spool.get_meta("send_failures"):
                    self._set_backoff(None)
                return
            try:
                self._send(batch, report)
                delay = 0.2
            except (TransportError, ApiError) as exc:  # only transient ones escape _send
                message = str(exc)
                self.spool.note_failure([op.id for op in batch], message)
                report.error = message
                # An interactive flush gives up at once when nothing listens; overload (5xx) gets retries.
                gave_up = isinstance(exc, TransportError) and not patient
                if gave_up or time.monotonic() + delay > end:
                    failures = int(self.spool.get_meta("send_failures") or 0) + 1
                    self._set_backoff(failures)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _set_backoff(self, failures: int | None) -> None:
        with self.spool.transaction() as conn:
            if failures is None:
                Spool.set_meta_in(conn, "send_failures", None)
                Spool.set_meta_in(conn, "retry_after", None)
            else:
                Spool.set_meta_in(conn, "send_failures", str(failures))
                Spool.set_meta_in(conn, "retry_after", str(time.time() + min(2.0 ** (failures - 1), 30.0)))

    def _next_batch(self) -> list[SpooledOp]:
        ops = self.spool.peek(self.max_batch_events, self.max_batch_bytes)
        if not ops:
            return []
        first = ops[0]
        if first.kind != "event":
            return [first]
        batch = [first]
        for op in ops[1:]:
            if op.kind != "event" or op.trace_id != first.trace_id:
                break
            batch.append(op)
        return batch

    def _send(self, batch: list[SpooledOp], report: FlushReport) -> None:
        first = batch[0]
        try:
            if first.kind == "create_trace":
                self.transport.request("POST", "/api/traces", first.body.encode("utf-8"))
            elif first.kind == "finalize":
                response = self.transport.request("POST", f"/api/traces/{first.trace_id}/finalize")
                self.spool.set_meta(f"finalized:{first.trace_id}", json.dumps(response.body))
            else:
                body = '{"events":[' + ",".join(op.body for op in batch) + "]}"
                response = self.transport.request(
                    "POST", f"/api/traces/{first.trace_id}/events", body.encode("utf-8")
                )
                report.duplicates += int((response.body or {}).get("duplicates", 0))
        except ApiError as exc:
            if exc.transient:
                raise
            # A bad key (401), or a key that may not create traces, blocks the queue until it is fixed;
            # a 403 on one trace's events (not that key's trace) only sets those events aside.
            if exc.status == 401 or (exc.status == 403 and first.kind == "create_trace"):
                raise AuthError(f"the server refused the API key ({exc.error})") from exc
            if len(batch) > 1:
                # All-or-nothing batch refused: send one by one (order kept) to find the op at fault.
                for op in batch:
                    self._send([op], report)
                return
            error = f"HTTP {exc.status}: {exc.error}" + (f" ({exc.detail})" if exc.detail else "")
            self.spool.reject(first, exc.status, error)
            report.rejected.append((first.kind, first.event_id, error))
            return
        self.spool.ack([op.id for op in batch])
        report.sent += len(batch)
