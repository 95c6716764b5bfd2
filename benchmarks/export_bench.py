"""Export benchmark: seed N traces, export each format, print MB/s and peak RSS.

Each export runs in a fresh child process so its peak RSS is its own; exporting 10k and then 100k
traces shows whether memory stays constant as the dataset grows. Formats: jsonl, parquet (one file),
parquet-month (month shards), sft, adp, hf (a datasets directory: Parquet shards + save_to_disk + card).
Seeded traces spread over ~14 months (one every SPACING) so shards partition.

    python benchmarks/export_bench.py                    # 100k traces in a temporary SQLite file
    python benchmarks/export_bench.py --traces 20000 --database-url postgresql+psycopg://...
    python benchmarks/export_bench.py --formats sft,hf --traces 20000 --small 2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

BASE = datetime(2026, 1, 1)
SPACING = timedelta(minutes=7)  # 100k traces span about 16 months: month partitions have work to do
FORMATS = ("jsonl", "parquet", "parquet-month", "sft", "adp", "hf")
DIFF = (
    "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -10,7 +10,7 @@\n"
    + "".join(f" context line {i}\n" for i in range(6))
    + "-    return compute(a, b)\n+    return compute(b, a)\n"
)
OUTPUT = "".join(f"tests/test_mod.py::test_case_{i} PASSED\n" for i in range(12)) + "12 passed in 0.31s\n"


class PeakAnon:
    """Samples RssAnon (the process's own heap, not memory-mapped files) every 50 ms: Arrow and datasets
    memory-map their files, and those pages count in RSS without being memory the export holds."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kb("RssAnon:"))
            time.sleep(0.05)

    def __enter__(self) -> PeakAnon:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def seed(database_url: str | None, data_dir: Path, traces: int) -> None:
    from sqlalchemy import func, insert, select

    from bugtrail.config import Settings
    from bugtrail.db.engine import Database
    from bugtrail.db.migrate import upgrade
    from bugtrail.db.models import DeveloperConsent, Event, QaResult, Trace

    database = Database(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(database.engine)
    with database.scope() as session:  # every developer consented: the default (external) export takes all
        for n in range(50):
            if session.get(DeveloperConsent, f"dev{n}") is None:
                session.add(
                    DeveloperConsent(
                        developer_id=f"dev{n}", licence="CC-BY-4.0", consent_given_at=BASE, external_use=True
                    )
                )
    with database.scope() as session:
        existing = session.scalar(select(func.count()).select_from(Trace)) or 0
    if existing >= traces:
        print(f"database already holds {existing} traces")
        return
    started = time.perf_counter()
    chunk = 2000
    for start in range(existing, traces, chunk):
        trace_rows, event_rows, qa_rows = [], [], []
        for i in range(start, min(start + chunk, traces)):
            trace_id = str(uuid.UUID(int=i + 1))
            created = BASE + SPACING * i
            passed = i % 3 != 0
            trace_rows.append(
                {
                    "trace_id": trace_id,
                    "developer_id": f"dev{i % 50}",
                    "repo_url": f"https://github.com/ex/r{i % 20}",
                    "bug_description": f"compute() swaps its arguments (case {i})",
                    "base_commit": "c" * 40,
                    "test_command": "pytest -q",
                    "status": "completed",
                    "content_hash": "0" * 64,
                    "event_count": 6,
                    "created_at": created,
                    "updated_at": created,
                    "finalized_at": created,
                    "tests_passed": passed,
                    "resolved": passed,
                    "reasoning_score": 1 + i % 5,
                    "latest_qa_result_id": i + 1,
                }
            )
            details = [
                (
                    "reasoning",
                    {
                        "text": "compute() gets (a, b) swapped; the failing test shows it.",
                        "reasoning_type": "hypothesis",
                        "confidence": "medium",
                    },
                ),
                (
                    "command",
                    {"command": "pytest -q", "output": OUTPUT, "exit_code": 1, "working_directory": "."},
                ),
                ("edit", {"file": "pkg/mod.py", "diff": DIFF, "change": "swap arguments"}),
                (
                    "command",
                    {"command": "pytest -q", "output": OUTPUT, "exit_code": 0, "working_directory": "."},
                ),
                ("reasoning", {"text": "fixed", "reasoning_type": "outcome", "confidence": "high"}),
                (
                    "edit",
                    {
                        "file": "CHANGELOG.md",
                        "diff": "--- a/CHANGELOG.md\n+++ b/CHANGELOG.md\n@@ -1 +1,2 @@\n"
                        " # Changes\n+- fix compute\n",
                    },
                ),
            ]
            for seq, (kind, detail) in enumerate(details):
                ts = created + timedelta(milliseconds=seq)
                event_rows.append(
                    {
                        "trace_id": trace_id,
                        "event_id": str(uuid.UUID(int=(i + 1) * 16 + seq)),
                        "seq": seq,
                        "event_type": kind,
                        "event_timestamp": ts.isoformat() + "+00:00",
                        "ts_utc": ts,
                        "details": detail,
                        "content_hash": "0" * 64,
                        "redactions": 0,
                        "received_at": ts,
                    }
                )
            qa_rows.append(
                {
                    "id": i + 1,
                    "trace_id": trace_id,
                    "outcome": "completed",
                    "tests_passed": passed,
                    "resolved": passed,
                    "reasoning_score": 1 + i % 5,
                    "qa_timestamp": created,
                    "result": {
                        "outcome": "completed",
                        "tests_passed": passed,
                        "resolved": passed,
                        "fail_to_pass": ["t::a"],
                        "pass_to_pass": ["t::b", "t::c"],
                        "failed_after": [] if passed else ["t::a"],
                        "patch_applied": True,
                        "reasoning_score": 1 + i % 5,
                        "judge_comments": "ok",
                        "judge": {"criteria": {"clarity": {"score": 4}}},
                        "error": None,
                    },
                }
            )
        with database.scope() as session:
            session.execute(insert(Trace), trace_rows)
            session.execute(insert(Event), event_rows)
            session.execute(insert(QaResult), qa_rows)
        print(f"\rseeded {min(start + chunk, traces)}/{traces}", end="", flush=True)
    print(f"\nseeding took {time.perf_counter() - started:.1f}s")
    database.dispose()


def seed_huge(database_url: str | None, data_dir: Path, megabytes: int) -> None:
    """One trace of `megabytes` command events with 1 MiB of output each (the huge-trace case)."""
    from sqlalchemy import func, insert, select

    from bugtrail.config import Settings
    from bugtrail.db.engine import Database
    from bugtrail.db.migrate import upgrade
    from bugtrail.db.models import Event, Trace

    database = Database(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(database.engine)
    with database.scope() as session:
        if session.scalar(select(func.count()).select_from(Trace)):
            return
        session.execute(
            insert(Trace),
            [
                {
                    "trace_id": str(uuid.UUID(int=1)),
                    "developer_id": "hoarder",
                    "repo_url": "https://github.com/ex/huge",
                    "bug_description": "a day-long session",
                    "status": "completed",
                    "content_hash": "0" * 64,
                    "event_count": megabytes,
                    "created_at": BASE,
                    "updated_at": BASE,
                }
            ],
        )
    output = ("0123456789abcdef" * 64 + "\n") * 1000  # ~1 MiB
    for first in range(0, megabytes, 25):
        rows = []
        for seq in range(first, min(first + 25, megabytes)):
            ts = BASE + timedelta(seconds=seq)
            rows.append(
                {
                    "trace_id": str(uuid.UUID(int=1)),
                    "event_id": str(uuid.UUID(int=1000 + seq)),
                    "seq": seq,
                    "event_type": "command",
                    "event_timestamp": ts.isoformat() + "+00:00",
                    "ts_utc": ts,
                    "details": {"command": "cat big.log", "output": output, "exit_code": 0},
                    "content_hash": "0" * 64,
                    "redactions": 0,
                    "received_at": ts,
                }
            )
        with database.scope() as session:
            session.execute(insert(Event), rows)
    database.dispose()


def run_export(database_url: str | None, data_dir: Path, fmt: str, limit: int, out: Path) -> dict[str, float]:
    """In the child process: one export, then report size, time and memory."""
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database
    from bugtrail.export import flows
    from bugtrail.export.filters import ExportFilters
    from bugtrail.export.formats import flows as format_flows

    database = Database(Settings(data_dir=data_dir, database_url=database_url))
    # The seeded developers recorded no consent: an internal export takes every trace.
    filters = ExportFilters(use="internal", created_before=BASE + SPACING * limit)
    baseline = _rss_kb()
    anon_baseline = _status_kb("RssAnon:")
    with PeakAnon() as anon:
        started = time.perf_counter()
        record_id = flows.start_export(database, fmt, filters, "bench")
        if fmt == "jsonl":
            result = flows.write_jsonl(database, filters, record_id, out)
        elif fmt in ("sft", "adp"):
            result = format_flows.write_rows(database, filters, record_id, fmt, out)
        elif fmt == "hf":
            result = format_flows.write_hf(database, filters, record_id, out)
        elif fmt == "parquet-month":
            result = flows.write_parquet_shards(database, filters, record_id, out)
        else:
            result = flows.write_parquet(database, filters, record_id, out)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "traces": result.trace_count,
        "bytes": result.byte_count,
        "seconds": seconds,
        "peak_rss_kb": peak,
        "baseline_rss_kb": baseline,
        "peak_anon_kb": anon.peak,
        "baseline_anon_kb": anon_baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the smaller export to compare RSS with")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated: {', '.join(FORMATS)}")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the SQLite file here (reused)")
    parser.add_argument(
        "--huge-mb", type=int, default=0, help="instead: one trace of this many MiB of output, each format"
    )
    parser.add_argument("--child", nargs=3, metavar=("FORMAT", "LIMIT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    name = f"huge-{args.huge_mb}" if args.huge_mb else f"{args.traces}-monthly"
    data_dir = args.data_dir or Path(tempfile.gettempdir()) / f"bugtrail-export-bench-{name}"
    if args.child:
        fmt, limit, out = args.child
        print(json.dumps(run_export(args.database_url, data_dir, fmt, int(limit), Path(out))))
        return
    formats = [fmt.strip() for fmt in args.formats.split(",") if fmt.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown formats {unknown}")
    if args.huge_mb:
        seed_huge(args.database_url, data_dir, args.huge_mb)
    else:
        seed(args.database_url, data_dir, args.traces)
    limits = (1,) if args.huge_mb else (args.small, args.traces)
    print(
        f"{'format':8} {'traces':>8} {'MB':>8} {'s':>7} {'MB/s':>7} {'traces/s':>9} {'peak RSS MB':>12} "
        f"{'RSS after imports':>18} {'peak anon MB':>13} {'anon at start':>14}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in formats:
            for limit in limits:
                out = Path(tmp) / f"export-{limit}.{fmt}"
                command = [
                    sys.executable,
                    __file__,
                    "--traces",
                    str(args.traces),
                    "--data-dir",
                    str(data_dir),
                    "--child",
                    fmt,
                    str(limit),
                    str(out),
                ]
                if args.database_url:
                    command += ["--database-url", args.database_url]
                child = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ)
                m = json.loads(child.stdout.strip().splitlines()[-1])
                mb = m["bytes"] / 1e6
                print(
                    f"{fmt:8} {m['traces']:>8} {mb:>8.1f} {m['seconds']:>7.1f} {mb / m['seconds']:>7.1f} "
                    f"{m['traces'] / m['seconds']:>9.0f} {m['peak_rss_kb'] / 1024:>12.1f} "
                    f"{m['baseline_rss_kb'] / 1024:>18.1f} {m['peak_anon_kb'] / 1024:>13.1f} "
                    f"{m['baseline_anon_kb'] / 1024:>14.1f}"
                )
                if out.is_dir():
                    shutil.rmtree(out)
                else:
                    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
