"""The ingestion benchmark end to end, in a few seconds, so the script cannot rot.

Runs benchmarks/ingest_bench.py as a user would (a subprocess, quick mode, SQLite, small numbers) against a
real `bugtrail serve`, and checks it printed every figure and ratio, and that its exactly-once check
counted acknowledged events in the database and passed. The figures themselves are not judged here (a
shared machine's speed is not a test result); the benchmark's own target lines do that.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.server import ROOT, cli_environment

COMMAND = [
    sys.executable,
    str(ROOT / "benchmarks" / "ingest_bench.py"),
    "--quick",
    "--databases",
    "sqlite",
    "--clients",
    "20",
    "--batch-clients",
    "2",
    "--loads",
    "20,50",
    "--seconds",
    "1",
    "--grace",
    "2",
    "--raw-seconds",
    "0.3",
    "--sequential",
    "10",
    "--saturation-seconds",
    "0.5",
    "--batches",
    "6",
    "--batch-seconds",
    "2",
]
NUMBER = r"(\d+(?:\.\d+)?)"


def test_quick_benchmark_prints_ratios_and_passes_exactly_once() -> None:
    result = subprocess.run(
        COMMAND, capture_output=True, text=True, env=cli_environment(), cwd=str(ROOT), timeout=240
    )
    out = result.stdout
    assert result.returncode == 0, f"exit {result.returncode}\n{out}\n{result.stderr[-3000:]}"

    raw = re.search(
        rf"raw single-row commits .*: {NUMBER} commits/s; raw executemany .*: {NUMBER} rows/s", out
    )
    assert raw and float(raw[1]) > 0 and float(raw[2]) > 0, out
    assert re.search(r"sequential /healthz: p50 .* server CPU \d+\.\d+ ms/request", out), out
    assert re.search(r"client CPU \d+% of a core", out), out
    # The client measured alone against a null server first: its own CPU and the machine's latency floor.
    assert re.search(
        r"\[client check\] null server, 20 clients, offered 50/s .* errors 0, unserved 0; client CPU", out
    )

    single = re.search(
        rf"ratio: sqlite \(1 API process\) single-event appends / raw single-row commits = "
        rf"{NUMBER}/s / {NUMBER}/s = {NUMBER}",
        out,
    )
    assert single and float(single[1]) > 0 and float(single[3]) > 0, out
    for rate in ("20", "50"):
        line = re.search(
            rf"ratio: sqlite .* at {rate}/s offered: achieved / offered = {NUMBER} / {rate} = {NUMBER}; "
            rf"p50 {NUMBER} ms, p99 {NUMBER} ms",
            out,
        )
        assert line and float(line[1]) > 0 and float(line[4]) >= float(line[3]) > 0, out
    batches = re.search(
        rf"ratio: sqlite .* batches / raw executemany = {NUMBER} / {NUMBER} rows/s = {NUMBER}", out
    )
    assert batches and float(batches[1]) > 0 and float(batches[3]) > 0, out
    assert re.search(r"target: sqlite .* >= 1000 single-event appends/s .*: (PASS|FAIL)", out), out
    assert re.search(r"target: sqlite .* batches >= 0.25 of raw executemany: .*: (PASS|FAIL)", out), out

    exact = re.search(
        r"exactly once: (\d+) acknowledged, (\d+) stored exactly once, 0 missing, 0 duplicated "
        r"\((\d+) rows in the event table\): PASS",
        out,
    )
    assert exact, out
    acknowledged, stored_once, rows = (int(exact[i]) for i in (1, 2, 3))
    # Batches of 100 and single events were acknowledged (and counted), each stored once.
    assert acknowledged == stored_once >= 100 and rows >= acknowledged, out
    assert "exactly once and no failed request in every database: PASS" in out
