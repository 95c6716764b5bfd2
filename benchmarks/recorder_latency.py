"""How long the developer waits for the recorder: `bugtrail note`/`run` latency, snapshot cost, big output.

    python benchmarks/recorder_latency.py [--runs 15] [--files 2000]

Starts a real `bugtrail serve` (temporary data dir, free port) and prints median/p90 wall times. Compare
with the baselines it prints (bare interpreter start, `import typer`) on the same, possibly busy, machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.recorder import cli_env, developer_key, make_repo  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402


def timed(argv: list[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def report(label: str, figures: tuple[float, float]) -> None:
    print(f"{label:<58} median {figures[0]:7.1f} ms   p90 {figures[1]:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    bt = [sys.executable, "-m", "bugtrail"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = ServerProcess(tmp_path / "data").start()
        try:
            key = developer_key(server)
            files = {f"pkg/mod{i}.py": f"VALUE_{i} = {i}\n" * 20 for i in range(args.files)}
            repo = make_repo(tmp_path / "repo", files)
            env = cli_env(server.url, key, tmp_path)
            subprocess.run(
                [*bt, "start", "--bug", "benchmark"], cwd=repo, env=env, check=True, capture_output=True
            )
            print(
                f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
                f"repo of {args.files} files"
            )
            report("baseline: python -c pass", timed([sys.executable, "-c", "pass"], repo, env, args.runs))
            report(
                "baseline: python -c 'import typer'",
                timed([sys.executable, "-c", "import typer"], repo, env, args.runs),
            )
            report(
                "bugtrail note (server up, nothing changed)",
                timed([*bt, "note", "hello"], repo, env, args.runs),
            )
            counter = [0]

            def edit_then(argv: list[str]) -> tuple[float, float]:
                samples = []
                for _ in range(args.runs):
                    counter[0] += 1
                    (repo / "pkg" / "mod7.py").write_text(f"VALUE = {counter[0]}\n")
                    start = time.perf_counter()
                    subprocess.run(argv, cwd=repo, env=env, capture_output=True, check=False)
                    samples.append((time.perf_counter() - start) * 1000)
                samples.sort()
                return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]

            report(
                "bugtrail note after editing one file (snapshot + send)",
                edit_then([*bt, "note", "after edit"]),
            )
            report(
                "bugtrail run -- true (server up)", timed([*bt, "run", "--", "true"], repo, env, args.runs)
            )
            report("bare: true", timed(["true"], repo, env, args.runs))
            report("bugtrail snapshot after editing one file", edit_then([*bt, "snapshot"]))
            server.stop()
            report("bugtrail note (server down)", timed([*bt, "note", "offline"], repo, env, args.runs))
            server = ServerProcess(tmp_path / "data", port=server.port).start()
            start = time.perf_counter()
            subprocess.run([*bt, "sync"], cwd=repo, env=env, check=True, capture_output=True)
            print(
                f"{'bugtrail sync of the notes queued during the outage':<58} "
                f"{(time.perf_counter() - start) * 1000:7.1f} ms"
            )

            generate = (
                "import sys\nb = b'x' * 65536 + b'\\n'\nfor _ in range(800): sys.stdout.buffer.write(b)\n"
            )
            start = time.perf_counter()
            with open(os.devnull, "wb") as sink:
                subprocess.run(
                    [*bt, "run", "--", sys.executable, "-c", generate],
                    cwd=repo,
                    env=env,
                    stdout=sink,
                    check=True,
                )
            elapsed = time.perf_counter() - start
            start = time.perf_counter()
            with open(os.devnull, "wb") as sink:
                subprocess.run([sys.executable, "-c", generate], stdout=sink, check=True)
            bare = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"{'50 MiB of output through bugtrail run':<58} {elapsed * 1000:7.1f} ms "
                f"(bare {bare * 1000:.1f} ms)"
            )
            print(f"{'peak RSS of any child process so far':<58} {peak:7.1f} MiB")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
