"""Throughput of bugtrail.traces.redaction on 1 MiB command outputs.

Run: PYTHONPATH=src python benchmarks/redaction_speed.py
Prints MB/s and ms per MiB for: clean log-like text (with git shas, UUIDs, URLs, `key`/`token` words that
trigger the slower detectors), plain text without any trigger, and secret-laden text (one secret per ~2 KiB).
Target: a 1 MiB output in well under 50 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import string
import time
import uuid

from bugtrail.traces.redaction import find_secrets, redact_text

MIB = 1 << 20


def _clean_lines(rng: random.Random) -> list[str]:
    sha = "".join(rng.choices("0123456789abcdef", k=40))
    words = " ".join(rng.choices(["build", "test", "passed", "module", "error", "line", "value"], k=8))
    return [
        f"commit {sha} Author: Dev <dev@example.com> {words}",
        f"request_id={uuid.UUID(int=rng.getrandbits(128))} GET https://api.example.com/v1/items?page=3 200",
        f"tests/test_tokens.py::test_max_tokens[{rng.randint(1, 99)}] PASSED  max_tokens=256 key_count=3",
        f"    self.assertEqual(parse_key(data), {rng.randint(0, 10**6)})  # sha256 {sha}{sha[:24]}",
        "".join(rng.choices(string.ascii_letters + string.digits + "+/", k=76)),  # base64 body
        "Привет, мир — non-ASCII output ✓ " + words,
    ]


def _plain_lines(rng: random.Random) -> list[str]:
    words = ["build", "test", "passed", "module", "error", "line", "value", "compile", "warning"]
    return [" ".join(rng.choices(words, k=12)) + f" {rng.randint(0, 10**6)}"]


def _secret_lines(rng: random.Random) -> list[str]:
    key = "".join(rng.choices(string.ascii_letters + string.digits, k=36))
    return [
        f"export AWS_ACCESS_KEY_ID=AKIA{''.join(rng.choices(string.ascii_uppercase + string.digits, k=16))}",
        f"git push https://bot:{key[:12]}@github.com/org/repo.git",
        f"GITHUB_TOKEN=ghp_{key}",
        f"curl -H 'Authorization: Bearer {key}' https://api.example.com",
        f"mysql --password={key[:10]} -h db",
    ]


def _make(line_factory, rng: random.Random, filler_factory=None, filler_per_block: int = 0) -> str:
    parts: list[str] = []
    size = 0
    while size < MIB:
        block = line_factory(rng)
        if filler_factory is not None:
            for _ in range(filler_per_block):
                block += filler_factory(rng)
        chunk = "\n".join(block) + "\n"
        parts.append(chunk)
        size += len(chunk.encode())
    return "".join(parts)


def _measure(name: str, text: str, repeats: int = 9) -> None:
    walls: list[float] = []
    cpus: list[float] = []
    count = 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        _, count = redact_text(text)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    started = time.perf_counter()
    kinds = find_secrets(text)
    flag_ms = (time.perf_counter() - started) * 1000
    size_mb = len(text.encode()) / 1e6
    wall_median, cpu_median = statistics.median(walls), statistics.median(cpus)
    print(
        f"{name:<13} {size_mb:4.2f} MB  redact wall median {wall_median * 1000:6.1f} ms"
        f" (best {min(walls) * 1000:5.1f}), CPU median {cpu_median * 1000:6.1f} ms"
        f" = {size_mb / cpu_median:5.1f} MB/s  redactions={count:<5}"
        f" find_secrets {flag_ms:5.1f} ms kinds={len(kinds)}"
    )


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (CPU time is the fairer figure)")
    rng = random.Random(42)
    redact_text("warm up AKIAIOSFODNN7EXAMPLE")
    _measure("plain", _make(_plain_lines, rng))
    _measure("clean-log", _make(_clean_lines, rng))
    _measure("secret-laden", _make(_secret_lines, rng, _clean_lines, 3))


if __name__ == "__main__":
    main()
