"""Ingestion benchmark (issue 13): HTTP appends against the raw database, measured in one run.

    python benchmarks/ingest_bench.py                 # SQLite and PostgreSQL: 2.5-4 min on the 2-core machine
    python benchmarks/ingest_bench.py --quick         # shorter phases: < 1 min quiet, ~2 min under load
    python benchmarks/ingest_bench.py --databases sqlite --loads 100,400 --seconds 5
    python benchmarks/ingest_bench.py --server-env PYTHONPATH=../main/src   # another checkout's server

For each database (SQLite; PostgreSQL on 127.0.0.1:5432 in a scratch database), against a real
`bugtrail serve` subprocess on 127.0.0.1 (no QA worker; `--workers N` on PostgreSQL when the server has
that option, detected from `bugtrail serve --help`), in this order:
1. Raw ceilings on the same disk and settings (benchmarks/ingest_raw.py): single-row commits/s (one row
   per transaction) and executemany rows/s (100 rows per transaction), into bugtrail's own event table.
2. Sequential: one client, one request at a time: `/healthz`, trace creates (as `bugtrail start` sends
   them) and single-event appends; latency and the server's CPU per request.
3. A herd of --creates (2000) trace creates from the --clients keep-alive clients in a closed loop (every
   developer's first request is a create): creates/s and the server's CPU per create.
   Then single-event appends from --clients (200) keep-alive clients, each its own developer key and trace, at
   each fixed offered load (--loads, default 100, 400, 1000 events/s) for --seconds each. Open loop: the
   arrival times are drawn (Poisson) before the phase starts, and a request's latency is counted from its
   scheduled arrival, so a slow server shows as latency, not as a lower offered rate (no coordinated
   omission). Requests still unanswered --grace seconds after the schedule ends are unserved: they count
   in the percentiles with the time they had waited (a lower bound), and are not acknowledged.
4. Saturation: the same clients in a closed loop (each sends its next event when the last is answered):
   the sustained appends/s.
5. Batches of 100 events from --batch-clients (8) clients in a closed loop.
6. Exactly once: every acknowledged event_id is counted in the database; each must be stored once.

Server CPU per request is the difference of utime+stime (from /proc/<pid>/stat) of the server process and
all its descendants before and after each phase, divided by its requests. The client's own CPU is
measured the same way (getrusage of this process) and printed with every phase: request bodies are
serialized before each phase starts, connections are kept alive, the client runs on uvloop when present
and parses only the status line, the headers it needs and the small JSON answer.

The lines starting with "ratio:" are the results; "target:" lines say PASS or FAIL. Exit status: 0 when
the run completed with no lost or duplicated event and no failed request, 1 otherwise; with
--require-targets a missed target also gives 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import ingest_profile
import ingest_raw

from tests.support.loadtools import (
    POSTGRES_ADMIN_URL,
    add_server_env_option,
    busy_processes,
    check_exactly_once,
    cpu_by_process,
    scratch_postgres,
    seed_developer_keys,
)
from tests.support.rawhttp import RawConnection, percentile
from tests.support.server import ROOT, BugtrailServer, cli_environment, free_port

BATCH = 100
# After a phase, requests in flight get this long to be answered before they are abandoned (unserved).
DRAIN_CAP_S = 60.0
OUTPUT_FILLER = (
    "collected 12 items\ntests/test_cache.py ..F.........\nFAILED tests/test_cache.py::test_locale\n"
)
EVENT_DETAILS: dict[str, Any] = {
    "command": "python -m pytest -q tests/test_cache.py -k locale",
    "output": (OUTPUT_FILLER * 12)[:820],
    "working_directory": "/home/dev/project",
    "exit_code": 1,
    "duration_ms": 1234,
}


def make_event(index: int, started: datetime) -> dict[str, Any]:
    """A command event of ~1 KiB serialized (the commonest kind in real traces), with a fresh event_id."""
    details = dict(EVENT_DETAILS, command=f"{EVENT_DETAILS['command']}  # run {index}")
    return {
        "event_id": str(uuid.uuid4()),
        "type": "command",
        "timestamp": (started + timedelta(milliseconds=index)).isoformat(),
        "details": details,
    }


@dataclass
class Client:
    """One keep-alive connection with its own developer key and trace."""

    conn: RawConnection
    trace_id: str = ""

    @property
    def events_path(self) -> str:
        return f"/api/traces/{self.trace_id}/events"


@dataclass
class Phase:
    """What one measured phase saw: latencies, failures, acknowledged ids, CPU on both sides."""

    name: str
    requests: int = 0
    events: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    unserved: list[float] = field(default_factory=list)  # how long each unanswered request had waited
    in_flight: int = 0
    wall: float = 0.0
    server_cpu: float = 0.0
    server_cpu_split: list[float] = field(default_factory=list)  # the parent's, then each API process's
    client_cpu: float = 0.0

    def p(self, q: float) -> float:
        """Percentile in ms, unserved requests included with the time they had waited: a lower bound of
        their latency, so an overloaded server's p99 is not flattered by leaving them out."""
        return percentile(self.latencies + self.unserved, q) * 1000

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall if self.wall else 0.0

    def cpu_text(self) -> str:
        per_request = self.server_cpu / self.requests * 1000 if self.requests else 0.0
        client_us = self.client_cpu / self.requests * 1e6 if self.requests else 0.0
        split = ""
        if len(self.server_cpu_split) > 1 and self.server_cpu > 0:
            parent, *api = (f"{cpu / self.server_cpu:.0%}" for cpu in self.server_cpu_split)
            split = f"; parent {parent}, API processes {'/'.join(api)}"
        return (
            f"server CPU {per_request:.2f} ms/request ({self.server_cpu / self.wall:.0%} of a core{split}); "
            f"client CPU {self.client_cpu / self.wall:.0%} of a core ({client_us:.0f} us/request)"
        )

    def latency_text(self) -> str:
        return (
            f"p50 {self.p(50):.1f} ms, p99 {self.p(99):.1f} ms, max {self.p(100):.1f} ms, "
            f"errors {len(self.errors)}, unserved {len(self.unserved)}"
        )


class Meter:
    """Runs a phase and fills in its wall time and the CPU both sides spent on it."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    async def run(self, work: Coroutine[Any, Any, Phase]) -> Phase:
        server0, client0, wall0 = cpu_by_process(self.server_pid), _self_cpu(), time.perf_counter()
        phase = await work
        phase.wall = time.perf_counter() - wall0
        server1 = cpu_by_process(self.server_pid)
        phase.client_cpu = _self_cpu() - client0
        phase.server_cpu = sum(server1.values()) - sum(server0.get(pid, 0.0) for pid in server1)
        # Per process: with several API processes, how evenly they share the work (kept-alive connections
        # stay with the process that accepted them). multiprocessing's resource tracker is no API process.
        phase.server_cpu_split = [
            server1[pid] - server0.get(pid, 0.0)
            for pid in server1
            if pid == self.server_pid or not is_resource_tracker(pid)
        ]
        return phase


def is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Bodies = list[tuple[bytes, list[str]]]


def single_bodies(count: int) -> Bodies:
    """Pre-serialized single-event bodies with their event ids (built before the clock starts)."""
    started = datetime.now(UTC)
    out = []
    for i in range(count):
        event = make_event(i, started)
        out.append((orjson.dumps(event), [event["event_id"]]))
    return out


def batch_bodies(count: int) -> Bodies:
    started = datetime.now(UTC)
    out = []
    for n in range(count):
        events = [make_event(n * BATCH + i, started) for i in range(BATCH)]
        out.append((orjson.dumps({"events": events}), [e["event_id"] for e in events]))
    return out


def create_bodies(count: int) -> Bodies:
    """Pre-serialized trace creates as `bugtrail start` sends them: a fresh trace_id, the header and a
    recorded environment (no events)."""
    out = []
    for i in range(count):
        body = {
            "trace_id": str(uuid.uuid4()),
            "repo_url": "https://github.com/example/project",
            "bug_description": f"cache misses on the second locale lookup (session {i})",
            "base_commit": "0123456789abcdef0123456789abcdef01234567",
            "test_command": "python -m pytest -q tests/test_cache.py",
            "environment": {
                "python_version": "3.11.9",
                "implementation": "CPython",
                "platform": "Linux-6.8.0-x86_64-with-glibc2.39",
                "packages": ["pytest==8.3.3", "requests==2.32.3", "numpy==2.1.1"],
            },
        }
        out.append((orjson.dumps(body), []))
    return out


def poisson_schedule(rate: float, seconds: float, seed: int) -> list[float]:
    """Arrival offsets (s) of a Poisson process at `rate`/s over `seconds`: fixed before the phase."""
    rng = random.Random(seed)
    offsets, t = [], rng.expovariate(rate)
    while t < seconds:
        offsets.append(t)
        t += rng.expovariate(rate)
    return offsets


def _answer_problem(status: int, raw: bytes, expected: int) -> str | None:
    """None when the server acknowledged all `expected` events of the request; otherwise what went wrong."""
    if status != 200:
        return f"HTTP {status}: {raw[:160]!r}"
    answer = orjson.loads(raw)
    if answer.get("accepted", 0) + answer.get("duplicates", 0) != expected:
        return f"acknowledged {answer.get('accepted')}+{answer.get('duplicates')} of {expected}"
    return None


async def post(client: Client, body: bytes, event_ids: list[str], phase: Phase, since: float) -> None:
    """Send one pre-serialized append; its latency counts from `since` (scheduled or actual send time)."""
    phase.in_flight += 1
    try:
        status, raw = await client.conn.send(client.conn.encode("POST", client.events_path, body))
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        phase.errors.append(f"{type(exc).__name__}: {exc}")
        return
    except asyncio.CancelledError:  # still unanswered DRAIN_CAP_S after the phase: not acknowledged
        phase.unserved.append(time.perf_counter() - since)
        await client.conn.close()  # its late answer must not be read as the next request's
        raise
    finally:
        phase.in_flight -= 1
    phase.latencies.append(time.perf_counter() - since)
    phase.requests += 1
    problem = _answer_problem(status, raw, len(event_ids))
    if problem:
        phase.errors.append(problem)
    else:
        phase.events += len(event_ids)
        phase.acked.extend(event_ids)


async def post_create(client: Client, body: bytes, _ids: list[str], phase: Phase, since: float) -> None:
    """Send one pre-serialized trace create (201 expected); its latency counts from `since`."""
    phase.in_flight += 1
    try:
        status, raw = await client.conn.send(client.conn.encode("POST", "/api/traces", body))
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        phase.errors.append(f"{type(exc).__name__}: {exc}")
        return
    finally:
        phase.in_flight -= 1
    phase.latencies.append(time.perf_counter() - since)
    phase.requests += 1
    if status != 201:
        phase.errors.append(f"create: HTTP {status}: {raw[:160]!r}")


Sender = Callable[[Client, bytes, list[str], Phase, float], Coroutine[Any, Any, None]]


async def open_loop(
    clients: list[Client], offsets: list[float], bodies: Bodies, grace: float, name: str
) -> Phase:
    """Arrival i at `offsets[i]` s after the start, taken by the next free client; its latency counts from
    that scheduled moment. `grace` s after the last scheduled arrival, arrivals not yet sent are unserved
    (never sent); requests in flight are awaited, so the server is idle when the next phase starts."""
    phase = Phase(name)
    arrivals: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.05

    async def serve(client: Client) -> None:
        while True:
            index = await arrivals.get()
            body, ids = bodies[index]
            try:
                await post(client, body, ids, phase, since=start + offsets[index])
            finally:
                arrivals.task_done()

    workers = [asyncio.create_task(serve(client)) for client in clients]
    for index, offset in enumerate(offsets):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        arrivals.put_nowait(index)
    stop_at = start + (offsets[-1] if offsets else 0.0) + grace
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(arrivals.join()), max(0.0, stop_at - time.perf_counter()))
    while not arrivals.empty():
        phase.unserved.append(stop_at - start - offsets[arrivals.get_nowait()])
        arrivals.task_done()
    await _drain(phase, workers)
    return phase


async def _drain(phase: Phase, workers: list[asyncio.Task[None]]) -> None:
    """Let the requests in flight finish (up to DRAIN_CAP_S), then stop the workers."""
    cap = time.perf_counter() + DRAIN_CAP_S
    while phase.in_flight and time.perf_counter() < cap:
        await asyncio.sleep(0.01)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


async def closed_loop(
    clients: list[Client], bodies: Bodies, name: str, seconds: float = 3600, send: Sender = post
) -> Phase:
    """Every client sends its share of `bodies` one after the other, as fast as the server answers, until
    the bodies run out or `seconds` have passed (then requests in flight are awaited, none sent). `send`:
    appends (post) or trace creates (post_create)."""
    phase = Phase(name)
    shares = [bodies[i :: len(clients)] for i in range(len(clients))]
    deadline = time.perf_counter() + seconds

    async def run(client: Client, share: Bodies) -> None:
        for body, ids in share:
            if time.perf_counter() >= deadline:
                return
            await send(client, body, ids, phase, time.perf_counter())

    workers = [asyncio.create_task(run(c, s)) for c, s in zip(clients, shares, strict=True)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(asyncio.gather(*workers)), seconds)
    await _drain(phase, workers)
    return phase


async def sequential_get(client: Client, path: str, count: int) -> Phase:
    """GET `path` one request at a time: /healthz is the cheapest request through the whole stack, the
    readiness probe (/readyz, where the server has one) adds a database round trip."""
    phase = Phase(path)
    request = client.conn.encode("GET", path)
    for _ in range(count):
        since = time.perf_counter()
        status, raw = await client.conn.send(request)
        phase.latencies.append(time.perf_counter() - since)
        phase.requests += 1
        if status != 200:
            phase.errors.append(f"HTTP {status}: {raw[:160]!r}")
    return phase


async def connect(server: BugtrailServer, keys: list[str]) -> list[Client]:
    """One connection per key, each creating its developer's trace (the connection then stays open)."""
    clients = [Client(RawConnection("127.0.0.1", server.port, key)) for key in keys]

    async def create(client: Client) -> None:
        status, body, _ = await client.conn.request(
            "POST", "/api/traces", {"repo_url": "https://github.com/example/project", "bug_description": "b"}
        )
        if status != 201:
            raise RuntimeError(f"creating a trace failed: {status} {body}")
        client.trace_id = str(body["trace_id"])

    for first in range(0, len(clients), 50):  # 50 at a time: setup, not the thing measured
        await asyncio.gather(*(create(c) for c in clients[first : first + 50]))
    return clients


async def disconnect(clients: list[Client]) -> None:
    for client in clients:
        await client.conn.close()


async def client_check(args: argparse.Namespace) -> None:
    """The same client at the highest offered load against a null server (benchmarks/null_http.py, its own
    process): the client's CPU per request and this machine's latency floor right now."""
    port = free_port()
    null = subprocess.Popen([sys.executable, str(Path(__file__).with_name("null_http.py")), str(port)])
    try:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
        clients = [
            Client(RawConnection("127.0.0.1", port, "btk_null"), str(uuid.uuid4()))
            for _ in range(args.clients)
        ]
        rate = max(args.loads)
        offsets = poisson_schedule(rate, args.seconds, seed=1)
        phase = await Meter(null.pid).run(
            open_loop(clients, offsets, single_bodies(len(offsets)), args.grace, "null")
        )
        await disconnect(clients)
    finally:
        null.kill()
        null.wait()
    print(
        f"[client check] null server, {args.clients} clients, offered {rate:g}/s (open loop): achieved "
        f"{phase.events_per_s:.0f}/s, {phase.latency_text()}; client CPU {phase.client_cpu / phase.wall:.0%} "
        f"of a core ({phase.client_cpu / max(phase.requests, 1) * 1e6:.0f} us/request): the client's own "
        "cost and this machine's latency floor now",
        flush=True,
    )


def postgres_problem() -> str | None:
    """Why the PostgreSQL instance cannot be used (None when it can): said before anything runs."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(cause).__name__}: {cause})"
    finally:
        engine.dispose()
    return None


def serve_workers_supported() -> bool:
    """Whether this build's `bugtrail serve` has a --workers option (older builds run one process)."""
    result = subprocess.run(
        [sys.executable, "-m", "bugtrail", "serve", "--help"],
        capture_output=True,
        text=True,
        env=cli_environment(COLUMNS="200", NO_COLOR="1"),
        cwd=str(ROOT),
        timeout=120,
    )
    return "--workers" in result.stdout


@dataclass
class Outcome:
    """One database's figures, for the ratios and targets."""

    database: str
    processes: int
    raw_commits: float = 0.0
    raw_many: float = 0.0
    loads: dict[float, Phase] = field(default_factory=dict)
    saturation: Phase | None = None
    batches: Phase | None = None
    creates: Phase | None = None
    exact: bool = False
    errors: int = 0


def _say(database: str, text: str) -> None:
    print(f"[{database}] {text}", flush=True)


async def measure_database(args: argparse.Namespace, database: str, processes: int, root: Path) -> Outcome:
    outcome = Outcome(database, processes)
    with contextlib.ExitStack() as stack:
        # Raw ceilings first, on the same disk (or instance) and settings, while no server runs.
        if database == "sqlite":
            url = f"sqlite:///{root / 'data' / 'bugtrail.db'}"
            commits, many = ingest_raw.sqlite_ceilings(
                root / "raw.db", EVENT_DETAILS, args.raw_seconds, BATCH
            )
        else:
            url = stack.enter_context(scratch_postgres())
            raw_url = stack.enter_context(scratch_postgres())
            commits, many = ingest_raw.postgres_ceilings(raw_url, EVENT_DETAILS, args.raw_seconds, BATCH)
        outcome.raw_commits, outcome.raw_many = commits.per_second, many.per_second
        _say(
            database,
            f"raw single-row commits (1 row/transaction): {commits.per_second:.0f} commits/s; "
            f"raw executemany ({BATCH} rows/transaction): {many.per_second:.0f} rows/s",
        )
        keys = seed_developer_keys(url, root / "data", max(args.clients, args.batch_clients) + 1, "bench")
        server = BugtrailServer(
            root / "data",
            database_url=url,
            log_path=root / f"server-{database}.log",
            workers=processes if processes > 1 else None,
            env=dict(args.server_env),
        )
        stack.enter_context(server)
        assert server.process is not None
        meter = Meter(server.process.pid)
        phases = [await measure_sequential(server, meter, keys[-1], args, database)]
        with profiled(args, server, f"{database}-singles"):
            phases.extend(await measure_singles(server, meter, keys[: args.clients], args, outcome))
        batch_clients = await connect(server, keys[: args.batch_clients])
        bodies = batch_bodies(args.batches)
        with profiled(args, server, f"{database}-batches"):
            outcome.batches = await meter.run(
                closed_loop(batch_clients, bodies, "batches", args.batch_seconds)
            )
        await disconnect(batch_clients)
        phases.append(outcome.batches)
        _say(
            database,
            f"batches of {BATCH}, {len(batch_clients)} clients in a closed loop ({outcome.batches.requests} "
            f"batches in {outcome.batches.wall:.1f} s): "
            f"{outcome.batches.events_per_s:.0f} events/s, per batch {outcome.batches.latency_text()}; "
            f"{outcome.batches.cpu_text()}",
        )
        server.stop()
        acked: list[str] = []
        for phase in phases:
            acked.extend(phase.acked)
            outcome.errors += len(phase.errors)
            for error in phase.errors[:3]:
                _say(database, f"error in {phase.name}: {error}")
        exact = check_exactly_once(url, acked)
        outcome.exact = exact.passed
        _say(database, exact.describe())
        if not exact.passed or outcome.errors:
            _say(database, f"server log tail:\n{server.log_tail(2000)}")
    return outcome


@contextlib.contextmanager
def profiled(args: argparse.Namespace, server: BugtrailServer, name: str) -> Iterator[None]:
    """With --profile DIR: py-spy samples of the server (GIL-holding stacks) while the block runs, kept
    in DIR/<name>.txt and summarized on stdout."""
    if args.profile is None:
        yield
        return
    assert server.process is not None
    output = args.profile / f"{name}.txt"
    with ingest_profile.recording(server.process.pid, output):
        yield
    summary = ingest_profile.summarize(output)
    print(f"profile {name} (py-spy, figures above measured while sampling; raw: {output}):\n{summary}")


async def measure_sequential(
    server: BugtrailServer, meter: Meter, key: str, args: argparse.Namespace, database: str
) -> Phase:
    """/healthz and appends one at a time; returns the appends phase (its acknowledged ids count too)."""
    client = (await connect(server, [key]))[0]
    warm = Phase("warm-up")
    for body, ids in single_bodies(5):
        await post(client, body, ids, warm, since=time.perf_counter())
    measured = [await meter.run(sequential_get(client, "/healthz", args.sequential))]
    if (await client.conn.send(client.conn.encode("GET", "/readyz")))[0] != 404:
        measured.append(await meter.run(sequential_get(client, "/readyz", args.sequential)))
    measured.append(
        await meter.run(closed_loop([client], create_bodies(args.sequential), "creates", send=post_create))
    )
    appends = await meter.run(closed_loop([client], single_bodies(args.sequential), "appends"))
    appends.acked += warm.acked
    appends.errors += warm.errors
    await disconnect([client])
    for phase in [*measured, appends]:
        _say(database, f"sequential {phase.name}: {phase.latency_text()}; {phase.cpu_text()}")
    return appends


async def measure_singles(
    server: BugtrailServer, meter: Meter, keys: list[str], args: argparse.Namespace, outcome: Outcome
) -> list[Phase]:
    clients = await connect(server, keys)
    phases: list[Phase] = []
    if args.creates:
        # A herd of session starts (every developer's first request is a create): creates/s and their CPU.
        phase = await meter.run(
            closed_loop(clients, create_bodies(args.creates), "creates", args.grace + 30, post_create)
        )
        outcome.creates = phase
        phases.append(phase)
        _say(
            outcome.database,
            f"trace creates, {len(clients)} clients in a closed loop: {phase.requests / phase.wall:.0f} "
            f"creates/s, {phase.latency_text()}; {phase.cpu_text()}",
        )
    # Each trace's first append, unmeasured (bounded: on an overloaded server not every trace gets one).
    phases.append(await closed_loop(clients, single_bodies(len(clients)), "warm-up", args.grace + 1))
    for rate in args.loads:
        offsets = poisson_schedule(rate, args.seconds, seed=int(rate))
        bodies = single_bodies(len(offsets))
        phase = await meter.run(open_loop(clients, offsets, bodies, args.grace, f"offered {rate:g}/s"))
        outcome.loads[rate] = phase
        phases.append(phase)
        _say(
            outcome.database,
            f"single events, {len(clients)} clients, offered {rate:g}/s (open loop, {args.seconds:g} s): "
            f"achieved {phase.events_per_s:.0f}/s, {phase.latency_text()}; "
            f"{phase.cpu_text()}",
        )
    if args.saturation_seconds > 0:
        # Enough events to keep the server busy for about --saturation-seconds at the raw commit rate.
        count = int(max(outcome.raw_commits, 1500) * args.saturation_seconds)
        bodies = single_bodies(count)
        phase = await meter.run(closed_loop(clients, bodies, "saturation", args.saturation_seconds))
        outcome.saturation = phase
        phases.append(phase)
        _say(
            outcome.database,
            f"single events, {len(clients)} clients in a closed loop ({args.saturation_seconds:g} s): "
            f"{phase.events_per_s:.0f} appends/s, {phase.latency_text()}; {phase.cpu_text()}",
        )
    await disconnect(clients)
    return phases


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def busiest(outcome: Outcome) -> Phase:
    """The phase that says what the server sustains: the closed loop, or the best open-loop load."""
    if outcome.saturation is not None:
        return outcome.saturation
    return max(outcome.loads.values(), key=lambda phase: phase.events_per_s)


def sustained(outcome: Outcome) -> float:
    """Sustained single-event appends/s."""
    return busiest(outcome).events_per_s


def cpu_line(label: str, what: str, phase: Phase) -> str:
    """Server CPU per event and the throughput that CPU cost allows: the figure the machine's other load
    disturbs least (a busy machine steals the server's time, not its CPU per request)."""
    per_event = phase.server_cpu / phase.events * 1000 if phase.events else float("inf")
    cores = os.cpu_count() or 1
    return (
        f"ratio: {label} server CPU per event, {what} = {per_event:.2f} ms: a CPU ceiling of "
        f"{1000 / per_event:.0f} events/s per core ({cores * 1000 / per_event:.0f} on {cores} cores)"
    )


def report(outcomes: list[Outcome], clients: int) -> bool:
    """Print the ratio and target lines; True when every target measured here was met."""
    met = True
    for o in outcomes:
        label = f"{o.database} ({o.processes} API process{'es' if o.processes > 1 else ''})"
        single = sustained(o)
        print(
            f"ratio: {label} single-event appends / raw single-row commits = {single:.0f}/s / "
            f"{o.raw_commits:.0f}/s = {single / o.raw_commits:.3f}"
        )
        print(cpu_line(label, f"single-event appends ({busiest(o).name})", busiest(o)))
        for rate, phase in o.loads.items():
            print(
                f"ratio: {label} at {rate:g}/s offered: achieved / offered = "
                f"{phase.events_per_s:.0f} / {rate:g} = {phase.events_per_s / rate:.3f}; "
                f"p50 {phase.p(50):.1f} ms, p99 {phase.p(99):.1f} ms"
            )
        if o.creates is not None and o.creates.requests:
            per_create = o.creates.server_cpu / o.creates.requests * 1000
            print(
                f"ratio: {label} trace creates ({clients} clients) = "
                f"{o.creates.requests / o.creates.wall:.0f}/s at {per_create:.2f} ms of server CPU each"
            )
        if o.batches is not None:
            ratio = o.batches.events_per_s / o.raw_many
            print(
                f"ratio: {label} batches / raw executemany = {o.batches.events_per_s:.0f} / "
                f"{o.raw_many:.0f} rows/s = {ratio:.3f}"
            )
            print(cpu_line(label, f"batches of {BATCH}", o.batches))
        if o.database == "sqlite":
            print(
                f"target: {label} >= 1000 single-event appends/s with {clients} clients: {single:.0f}/s: "
                f"{_verdict(single >= 1000)}"
            )
            met = met and single >= 1000
            if 400 in o.loads:
                p99 = o.loads[400].p(99)
                ok = p99 < 25 and not o.loads[400].unserved and not o.loads[400].errors
                print(f"target: {label} p99 < 25 ms at 400/s offered: {p99:.1f} ms: {_verdict(ok)}")
                met = met and ok
            if o.batches is not None:
                ratio = o.batches.events_per_s / o.raw_many
                verdict = _verdict(ratio >= 0.25)
                print(f"target: {label} batches >= 0.25 of raw executemany: {ratio:.3f}: {verdict}")
                met = met and ratio >= 0.25
    by_name = {o.database: o for o in outcomes}
    if "sqlite" in by_name and "postgresql" in by_name:
        sq, pg = by_name["sqlite"], by_name["postgresql"]
        singles = sustained(pg) / sustained(sq)
        print(f"ratio: postgresql / sqlite single-event appends/s = {singles:.3f}")
        ok = singles >= 1
        if sq.batches is not None and pg.batches is not None:
            batches = pg.batches.events_per_s / sq.batches.events_per_s
            print(f"ratio: postgresql / sqlite batch events/s = {batches:.3f}")
            ok = ok and batches >= 1
        print(
            f"target: postgresql with {pg.processes} API process(es) >= sqlite "
            f"(appends/s and batch events/s): {_verdict(ok)}"
        )
        met = met and ok
    return met


def describe_machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    others = ", ".join(f"{name} {share:.0%}" for name, share in busy_processes(exclude=os.getpid()))
    return f"load average {load} on {os.cpu_count()} CPUs; busiest other processes: {others or 'none'}"


async def main_async(args: argparse.Namespace) -> int:
    loop = type(asyncio.get_running_loop()).__module__
    print(
        f"event: {len(single_bodies(1)[0][0])} bytes serialized; batch: {BATCH} events "
        f"({len(batch_bodies(1)[0][0])} bytes); client event loop: {loop}",
        flush=True,
    )
    if "postgresql" in args.databases and (problem := postgres_problem()):
        print(f"[postgresql] {problem}: measure SQLite only with --databases sqlite")
        return 1
    wanted = {"sqlite": args.sqlite_workers, "postgresql": args.postgres_workers}
    workers_ok = any(wanted[d] > 1 for d in args.databases) and serve_workers_supported()
    print(describe_machine(), flush=True)
    await client_check(args)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bugtrail-ingest-bench-") as tmp:
        for database in args.databases:
            processes = wanted[database] if workers_ok else 1
            if wanted[database] > 1 and not workers_ok:
                print(f"[{database}] `bugtrail serve` has no --workers option in this build: 1 API process")
            print(f"[{database}] {describe_machine()}", flush=True)
            root = Path(tmp) / database
            root.mkdir()
            began = time.monotonic()
            outcomes.append(await measure_database(args, database, processes, root))
            print(f"[{database}] measured in {time.monotonic() - began:.0f} s", flush=True)
    print(describe_machine(), flush=True)
    met = report(outcomes, args.clients)
    correct = all(o.exact and not o.errors for o in outcomes)
    print(f"exactly once and no failed request in every database: {_verdict(correct)}")
    return 0 if correct and (met or not args.require_targets) else 1


PROFILES = {
    # option: (full run, --quick)
    "seconds": (10.0, 1.5),
    "raw_seconds": (3.0, 0.5),
    "sequential": (300, 30),
    "saturation_seconds": (5.0, 1.5),
    "batches": (400, 40),
    "batch_seconds": (8.0, 1.5),
    "creates": (2000, 400),
    "grace": (5.0, 1.0),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (see the module docstring)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--loads", default="100,400,1000", help="offered single-event loads, events/s")
    parser.add_argument("--clients", type=int, default=200, help="keep-alive clients for single events")
    parser.add_argument("--batch-clients", type=int, default=8)
    parser.add_argument("--postgres-workers", type=int, default=2, help="API processes on PostgreSQL")
    parser.add_argument("--sqlite-workers", type=int, default=1, help="API processes on SQLite")
    parser.add_argument("--seconds", type=float, help="per offered load (default 10, --quick 1.5)")
    parser.add_argument("--raw-seconds", type=float, help="per raw ceiling (default 3, --quick 0.5)")
    parser.add_argument("--sequential", type=int, help="sequential requests of each kind (300, --quick 30)")
    parser.add_argument(
        "--saturation-seconds", type=float, help="closed-loop phase (5, --quick 1.5; 0: skip)"
    )
    parser.add_argument("--batches", type=int, help="at most this many batches of 100 (400, --quick 40)")
    parser.add_argument("--creates", type=int, help="trace creates (2000, --quick 400; 0: skip)")
    parser.add_argument("--batch-seconds", type=float, help="at most this long for batches (8, --quick 1.5)")
    parser.add_argument(
        "--grace", type=float, help="s after an open-loop schedule until unanswered = unserved (5, --quick 1)"
    )
    add_server_env_option(parser)
    parser.add_argument("--require-targets", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile", type=Path, help="DIR: py-spy the server during the single-event and batch phases"
    )
    args = parser.parse_args(argv)
    for name, (full, quick) in PROFILES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.profile is not None and not ingest_profile.available():
        parser.error("--profile needs py-spy on PATH (pip install py-spy)")
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"--databases: unknown {', '.join(sorted(unknown))} (sqlite, postgresql)")
    args.loads = [float(r) for r in args.loads.split(",") if r.strip()]
    if any(rate <= 0 for rate in args.loads):
        parser.error("--loads: every load must be > 0 events/s")
    if args.clients < 1 or args.batch_clients < 1:
        parser.error("--clients and --batch-clients must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop  # less client CPU per request than asyncio's own loop
    except ImportError:
        return asyncio.run(main_async(args))
    return uvloop.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
