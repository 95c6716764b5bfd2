"""Ingestion benchmark (issue 2): HTTP batch ingestion vs the raw SQLite ceiling, and single-event p99.

    python benchmarks/ingest_bench.py                   # defaults: < ~2 min on the 2-core machine
    python benchmarks/ingest_bench.py --batches 400 --clients 8 --single-seconds 60

What it measures, in one run, against a real `bugtrail serve` subprocess on 127.0.0.1 with SQLite
(WAL, synchronous=FULL):
1. Batch ingestion: --clients concurrent clients, each its own developer and trace, POST batches of 100
   events of ~1 KiB to /api/traces/{id}/events until --batches batches were sent in total.
2. Raw SQLite ceiling: the same rows (same schema, built by bugtrail's migrations) inserted with
   sqlite3 executemany, 100 rows per transaction, same pragmas (WAL, synchronous=FULL). Row tuples are
   built before timing, so this is the database's cost alone.
3. Single-event appends with --single-clients concurrent clients (default 200), each its own developer and
   trace, each sending one event at a time at each of --single-rates events/s (open loop, Poisson arrivals),
   for --single-seconds per rate. Reports p50/p99/max latency. A recording developer sends one event every
   ~10-30 s (0.03-0.1/s), so 0.1/s per client is already above the realistic rate. The target
   (p99 < 25 ms) is about 200 connected clients at a steady aggregate rate, not about 200 clients
   hammering in a closed loop, whose latency is just 200 / throughput; the closed-loop figure is printed
   too, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from tests.support.rawhttp import RawConnection, percentile
from tests.support.server import BugtrailServer

BATCH = 100
OUTPUT_FILLER = (
    "collected 12 items\ntests/test_cache.py ..F.........\nFAILED tests/test_cache.py::test_locale\n"
)


def make_event(index: int, started: datetime) -> dict[str, Any]:
    """A command event of ~1 KiB when serialised (the commonest event kind in real traces)."""
    output = (OUTPUT_FILLER * 12)[:820]
    return {
        "event_id": str(uuid.uuid4()),
        "type": "command",
        "timestamp": (started + timedelta(milliseconds=index)).isoformat(),
        "details": {
            "command": f"python -m pytest -q tests/test_cache.py -k locale  # run {index}",
            "output": output,
            "working_directory": "/home/dev/project",
            "exit_code": 1,
            "duration_ms": 1234,
        },
    }


def event_size() -> int:
    return len(json.dumps(make_event(0, datetime.now(UTC))).encode())


async def _create_trace(conn: RawConnection) -> str:
    status, body, _ = await conn.request(
        "POST",
        "/api/traces",
        {"repo_url": "https://github.com/example/project", "bug_description": "benchmark trace"},
    )
    if status != 201:
        raise RuntimeError(f"create trace failed: {status} {body}")
    return str(body["trace_id"])


async def http_batches(server: BugtrailServer, keys: list[str], total_batches: int) -> dict[str, Any]:
    """Concurrent clients POSTing 100-event batches; returns events/s and latency figures."""
    started = datetime.now(UTC)
    conns = [RawConnection("127.0.0.1", server.port, key) for key in keys]
    traces = [await _create_trace(conn) for conn in conns]
    # Pre-encode every request so the client's CPU goes to sending, not to json.dumps.
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for n in range(total_batches):
        client = n % len(conns)
        events = [make_event(n * BATCH + i, started) for i in range(BATCH)]
        body = json.dumps({"events": events}).encode()
        queue.put_nowait((client, conns[client].encode("POST", f"/api/traces/{traces[client]}/events", body)))
    per_client: list[list[bytes]] = [[] for _ in conns]
    while not queue.empty():
        client, request = queue.get_nowait()
        per_client[client].append(request)
    latencies: list[float] = []
    errors: list[str] = []

    async def run(client: int) -> None:
        for request in per_client[client]:
            t0 = time.perf_counter()
            status, raw = await conns[client].send(request)
            latencies.append(time.perf_counter() - t0)
            if status != 200 or json.loads(raw)["accepted"] != BATCH:
                errors.append(f"{status} {raw[:200]!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(len(conns))))
    elapsed = time.perf_counter() - t0
    for conn in conns:
        await conn.close()
    events = total_batches * BATCH - len(errors) * BATCH
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "batch_p50_ms": percentile(latencies, 50) * 1000,
        "batch_p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
    }


def raw_sqlite_ceiling(directory: Path, clients: int, total_batches: int) -> dict[str, Any]:
    """The same rows through sqlite3.executemany, 100 rows per transaction, WAL + synchronous=FULL."""
    from sqlalchemy import create_engine

    from bugtrail.db.migrate import upgrade

    path = directory / "raw.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)  # the same tables and indexes the server writes to
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    now = datetime.now(UTC).replace(tzinfo=None)
    trace_ids = [str(uuid.uuid4()) for _ in range(clients)]
    conn.execute("BEGIN IMMEDIATE")
    for trace_id in trace_ids:
        conn.execute(
            "INSERT INTO trace (trace_id, developer_id, repo_url, bug_description, status, content_hash,"
            " event_count, created_at, updated_at)"
            " VALUES (?, 'dev', 'https://x', 'b', 'pending', '', 0, ?, ?)",
            (trace_id, now, now),
        )
    conn.execute("COMMIT")
    started = datetime.now(UTC)
    batches: list[list[tuple[Any, ...]]] = []
    for n in range(total_batches):
        trace_id = trace_ids[n % clients]
        rows = []
        for i in range(BATCH):
            event = make_event(n * BATCH + i, started)
            content = json.dumps(event, sort_keys=True)
            rows.append(
                (
                    trace_id,
                    event["event_id"],
                    n * BATCH + i + 1,
                    "command",
                    event["timestamp"],
                    now.isoformat(sep=" "),
                    json.dumps(event["details"]),
                    hashlib.sha256(content.encode()).hexdigest(),
                    0,
                    now.isoformat(sep=" "),
                )
            )
        batches.append(rows)
    t0 = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO event (trace_id, event_id, seq, event_type, event_timestamp, ts_utc, details,"
            " content_hash, redactions, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    events = total_batches * BATCH
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed}


async def single_events(
    server: BugtrailServer, keys: list[str], seconds: float, rate: float, closed_loop: bool
) -> dict[str, Any]:
    """Each client appends one event at a time; open loop at `rate` events/s per client, or closed loop."""
    started = datetime.now(UTC)
    conns = [RawConnection("127.0.0.1", server.port, key) for key in keys]
    traces = await asyncio.gather(*(_create_trace(conn) for conn in conns))
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(7)

    async def run(client: int) -> None:
        counter = 0
        path = f"/api/traces/{traces[client]}/events"
        if not closed_loop:
            await asyncio.sleep(rng.uniform(0, min(1 / rate, seconds / 2)))  # spread the first sends
        while time.perf_counter() < deadline:
            body = json.dumps(make_event(counter, started)).encode()
            counter += 1
            t0 = time.perf_counter()
            status, raw = await conns[client].send(conns[client].encode("POST", path, body))
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"{status} {raw[:200]!r}")
            if not closed_loop:
                await asyncio.sleep(min(rng.expovariate(rate), max(0.0, deadline - time.perf_counter())))

    t0 = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(len(conns))))
    elapsed = time.perf_counter() - t0
    for conn in conns:
        await conn.close()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=0) * 1000,
        "errors": errors,
    }


async def make_keys(server: BugtrailServer, count: int, prefix: str) -> list[str]:
    loop = asyncio.get_running_loop()
    return [
        await loop.run_in_executor(None, server.create_key, f"{prefix}-{i}", "developer")
        for i in range(count)
    ]


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bugtrail-bench-") as tmp:
        root = Path(tmp)
        print(f"event size: {event_size()} bytes serialised; batch: {BATCH} events", flush=True)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        with BugtrailServer(root / "data", log_path=root / "server.log") as server:
            keys = await make_keys(server, args.clients, "batch")
            batch = await http_batches(server, keys, args.batches)
            print(
                f"HTTP batch ingestion: {batch['events']} events in {batch['seconds']:.2f} s = "
                f"{batch['events_per_s']:.0f} events/s ({args.clients} clients; batch p50 "
                f"{batch['batch_p50_ms']:.1f} ms, p99 {batch['batch_p99_ms']:.1f} ms; "
                f"errors {len(batch['errors'])})",
                flush=True,
            )
            raw = raw_sqlite_ceiling(root, args.clients, args.batches)
            print(
                f"raw SQLite ceiling (executemany, {BATCH} rows/transaction, WAL, synchronous=FULL): "
                f"{raw['events']} rows in {raw['seconds']:.2f} s = {raw['events_per_s']:.0f} rows/s",
                flush=True,
            )
            ratio = batch["events_per_s"] / raw["events_per_s"]
            print(f"ratio HTTP / raw = {ratio:.3f} (target >= 0.2): {'PASS' if ratio >= 0.2 else 'FAIL'}")

            keys = await make_keys(server, args.single_clients, "single")
            ok = True
            # Unmeasured warm-up of the single-event path (first requests of 200 new connections and traces).
            await single_events(server, keys, 3.0, 1.0, False)
            for rate in [float(r) for r in args.single_rates.split(",")]:
                single = await single_events(server, keys, args.single_seconds, rate, False)
                passed = single["p99_ms"] < 25 and not single["errors"]
                ok = ok and passed
                print(
                    f"single-event append, {args.single_clients} concurrent clients at {rate} events/s each "
                    f"(open loop, offered {args.single_clients * rate:.0f}/s): "
                    f"{single['requests']} requests, {single['requests_per_s']:.0f}/s, "
                    f"p50 {single['p50_ms']:.1f} ms, p99 {single['p99_ms']:.1f} ms, "
                    f"max {single['max_ms']:.1f} ms, errors {len(single['errors'])} (target p99 < 25 ms): "
                    f"{'PASS' if passed else 'FAIL'}",
                    flush=True,
                )
                batch["errors"] += single["errors"]
            if args.closed_loop_seconds > 0:
                closed = await single_events(server, keys, args.closed_loop_seconds, 1.0, True)
                print(
                    f"single-event append, {args.single_clients} clients in a closed loop (reference: the "
                    f"saturation throughput): {closed['requests_per_s']:.0f} requests/s, p50 "
                    f"{closed['p50_ms']:.1f} ms, p99 {closed['p99_ms']:.1f} ms, "
                    f"errors {len(closed['errors'])}",
                    flush=True,
                )
            for error in batch["errors"][:5]:
                print("error:", error)
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    return 0 if ratio >= 0.2 and ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent batch clients")
    parser.add_argument("--batches", type=int, default=300, help="total batches of 100 events")
    parser.add_argument("--single-clients", type=int, default=200)
    parser.add_argument(
        "--single-rates", default="0.1,0.25,0.5", help="comma-separated events/s per client, one run each"
    )
    parser.add_argument("--single-seconds", type=float, default=15.0, help="per rate")
    parser.add_argument("--closed-loop-seconds", type=float, default=10.0, help="0 to skip")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
