"""How long the developer waits for the recorder: `bugtrail note`/`run` latency, snapshot cost, big output,
and what `bugtrail start` pays to record the Python environment (against `pip freeze`).

    python benchmarks/recorder_latency.py [--runs 15] [--files 2000]

Starts a real `bugtrail serve` (temporary data dir, free port) and prints median/p90 wall times. Compare
with the baselines it prints (bare interpreter start, `import typer`) on the same, possibly busy, machine.
"""

from __future__ import annotations

import argparse
import contextlib
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

from tests.support.recorder import cli_env, developer_key  # noqa: E402
from tests.support.repos import make_repo  # noqa: E402
from tests.support.server import BugtrailServer  # noqa: E402


def cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed(argv: list[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, float, float]:
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu_ms()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append(cpu_ms() - start_cpu)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1], statistics.median(cpu)


def report(label: str, figures: tuple[float, float, float]) -> None:
    # CPU time (user + sys of every child process, git included) is steadier than wall time on a busy box.
    print(f"{label:<58} median {figures[0]:6.0f} ms  p90 {figures[1]:6.0f} ms  cpu {figures[2]:5.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    bt = [sys.executable, "-m", "bugtrail"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = BugtrailServer(tmp_path / "data").start()
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

            def edit_then(argv: list[str]) -> tuple[float, float, float]:
                samples, cpu = [], []
                for _ in range(args.runs):
                    counter[0] += 1
                    (repo / "pkg" / "mod7.py").write_text(f"VALUE = {counter[0]}\n")
                    start, start_cpu = time.perf_counter(), cpu_ms()
                    subprocess.run(argv, cwd=repo, env=env, capture_output=True, check=False)
                    samples.append((time.perf_counter() - start) * 1000)
                    cpu.append(cpu_ms() - start_cpu)
                samples.sort()
                return (
                    statistics.median(samples),
                    samples[int(len(samples) * 0.9) - 1],
                    statistics.median(cpu),
                )

            report(
                "bugtrail note after editing one file (snapshot + send)",
                edit_then([*bt, "note", "after edit"]),
            )
            report(
                "bugtrail run -- true (server up)", timed([*bt, "run", "--", "true"], repo, env, args.runs)
            )
            report("bare: true", timed(["true"], repo, env, args.runs))
            shell_figures(bt, repo, env, tmp_path, max(args.runs, 30))
            report("bugtrail snapshot after editing one file", edit_then([*bt, "snapshot"]))
            server.stop()
            report("bugtrail note (server down)", timed([*bt, "note", "offline"], repo, env, args.runs))
            server = BugtrailServer(tmp_path / "data", port=server.port).start()
            start = time.perf_counter()
            subprocess.run([*bt, "sync"], cwd=repo, env=env, check=True, capture_output=True)
            print(
                f"{'bugtrail sync of the notes queued during the outage':<58} "
                f"{(time.perf_counter() - start) * 1000:7.1f} ms"
            )

            generate = (
                "import sys\nb = b'x' * 65536 + b'\\n'\nfor _ in range(800): sys.stdout.buffer.write(b)\n"
            )
            # A fresh wrapper process, so its RUSAGE_CHILDREN peak is bugtrail's own (or the generator's).
            measure = (
                "import resource, subprocess, sys, time\n"
                "start = time.perf_counter()\n"
                "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
                "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            )

            def measured(argv: list[str]) -> tuple[float, float]:
                out = subprocess.run(
                    [sys.executable, "-c", measure, *argv], cwd=repo, env=env, capture_output=True, check=True
                ).stdout.split()
                return float(out[0]) * 1000, int(out[1]) / 1024

            wrapped_ms, wrapped_rss = measured([*bt, "run", "--", sys.executable, "-c", generate])
            bare_ms, bare_rss = measured([sys.executable, "-c", generate])
            print(
                f"{'50 MiB of output through bugtrail run':<58} {wrapped_ms:6.0f} ms (bare {bare_ms:.0f} ms)"
            )
            print(
                f"{'peak RSS during it (bugtrail or the generator)':<58} {wrapped_rss:6.1f} MiB "
                f"(generator alone {bare_rss:.1f} MiB)"
            )
            environment_figures(bt, repo, env, args.runs)
        finally:
            server.stop()


def prompt_latencies(
    argv: list[str], cwd: Path, env: dict[str, str], prompt: bytes, runs: int
) -> list[float]:
    """Type `true` into an interactive shell on a pty `runs` times; ms from Enter to the next prompt."""
    import pty
    import select

    pid, master = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    seen = bytearray()

    def read_until_prompts(count: int) -> None:
        while seen.count(prompt) < count:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                raise RuntimeError(f"no prompt from {argv}: {bytes(seen[-300:])!r}")
            seen.extend(os.read(master, 65536))

    samples = []
    try:
        read_until_prompts(1)
        for i in range(runs):
            start = time.perf_counter()
            os.write(master, b"true\r")
            read_until_prompts(i + 2)
            samples.append((time.perf_counter() - start) * 1000)
        os.write(master, b"exit\r")
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass
    finally:
        os.close(master)
        os.waitpid(pid, 0)
    return sorted(samples)


def shell_figures(bt: list[str], repo: Path, env: dict[str, str], tmp_path: Path, runs: int) -> None:
    """What `bugtrail shell` adds to a command that takes no time: Enter to the next prompt, against the
    same bash without recording (the recording itself happens off the terminal's path, in a thread)."""
    home = tmp_path / "shell-home"
    home.mkdir(exist_ok=True)
    (home / ".bashrc").write_text("PS1='READY> '\n")
    shell_env = {**env, "HOME": str(home), "SHELL": "/bin/bash", "TERM": "xterm"}
    plain = prompt_latencies(["bash", "-i"], repo, shell_env, b"READY> ", runs)
    recorded = prompt_latencies([*bt, "shell"], repo, shell_env, b"(bugtrail) READY> ", runs)
    for label, samples in (("plain bash: true, Enter to prompt", plain), ("bugtrail shell: true", recorded)):
        p90 = samples[int(runs * 0.9) - 1]
        print(f"{label:<58} median {statistics.median(samples):6.1f} ms  p90 {p90:6.1f} ms")
    added = statistics.median(recorded) - statistics.median(plain)
    print(f"{'bugtrail shell: added per command (median, target < 50 ms)':<58} {added:6.1f} ms")


def environment_figures(bt: list[str], repo: Path, env: dict[str, str], runs: int) -> None:
    """Environment capture of this interpreter (its packages, one subprocess) and its share of `start`."""
    from bugtrail.sdk.environment import capture_environment

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        captured = capture_environment(python=sys.executable, work_tree=repo)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    label = f"environment capture ({len(captured['packages'])} packages, importlib.metadata)"
    print(
        f"{label:<58} median {statistics.median(samples):6.0f} ms  p90 {samples[int(runs * 0.9) - 1]:6.0f} ms"
    )
    report(
        "for comparison: pip freeze", timed([sys.executable, "-m", "pip", "freeze"], repo, env, min(runs, 5))
    )
    subprocess.run([*bt, "abort", "--yes"], cwd=repo, env=env, check=True, capture_output=True)
    for flag, label in (
        ([], "bugtrail start (environment recorded)"),
        (["--no-environment"], "bugtrail start --no-environment"),
    ):
        # As if this interpreter (~150 packages) were the developer's virtualenv.
        start_env = {**env, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
        cycle = []
        for _ in range(min(runs, 7)):
            start = time.perf_counter()
            subprocess.run(
                [*bt, "start", "--bug", "b", *flag], cwd=repo, env=start_env, check=True, capture_output=True
            )
            cycle.append((time.perf_counter() - start) * 1000)
            subprocess.run([*bt, "abort", "--yes"], cwd=repo, env=env, check=True, capture_output=True)
        print(f"{label:<58} median {statistics.median(cycle):6.0f} ms")


if __name__ == "__main__":
    main()
