"""upstream_match: is the trace's final patch near-identical to a later commit of the repository?

A flag, not a rejection (mining old bugs is legitimate; copying the fix from the future is worth knowing).
The clone cache holds every ref of the repository (branches, tags, pull-request refs of a mirror), so the
later commits are there: those not reachable from base_commit that touch the trace's files (merges too: a
merge's first-parent diff is a whole pull request), the oldest `upstream_max_commits` of them. Each
commit's diff against its first parent, restricted to the trace's files, is compared with the trace's net
changed lines (qa.patch_lines.similarity); the best one at or above `upstream_match_threshold` is the
match. Bounded: a capped number of commits, files and diff bytes per commit, and a wall-clock limit, so a
huge repository cannot stall QA. Git runs on the mirror (our clone), never on a tree an edit shaped.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.qa.gitcmd import git
from bugtrail.qa.patch_lines import ChangedLines, add_diff, files_of, restricted, similarity

MAX_FILES = 200  # the trace's files named to git (a patch touching more is compared on these)
GIT_TIMEOUT_S = 60.0
COMMIT_MARK = "\x00commit "


@dataclass(frozen=True)
class UpstreamMatch:
    sha: str  # the later commit
    similarity: float

    def as_dict(self) -> dict[str, object]:
        return {"commit": self.sha, "similarity": self.similarity}


def find_upstream_match(
    settings: Settings, mirror: Path, base_commit: str, patch: ChangedLines
) -> UpstreamMatch | None:
    """The later commit whose change is nearest to `patch`, when it reaches the threshold; else None."""
    if not patch or settings.upstream_max_commits == 0:
        return None
    files = sorted(files_of(patch))[:MAX_FILES]
    candidates = later_commits(mirror, base_commit, files, settings.upstream_max_commits)
    if not candidates:
        return None
    best: UpstreamMatch | None = None
    with closing(commit_diffs(mirror, candidates, files, settings.upstream_max_diff_bytes)) as diffs:
        for commit, lines in diffs:
            score = round(similarity(patch, restricted(lines, set(files))), 4)
            if score >= settings.upstream_match_threshold and (best is None or score > best.similarity):
                best = UpstreamMatch(commit, score)
    return best


def later_commits(mirror: Path, base_commit: str, files: list[str], limit: int) -> list[str]:
    """Commits on any ref, not in base_commit's history, that change `files` against a parent (merges
    included: their first-parent diff is a whole pull request); the oldest `limit`."""
    listed = git(
        [
            "--git-dir",
            str(mirror),
            "--literal-pathspecs",  # a file named ":(glob)**" is a file name, not pathspec magic
            "rev-list",
            "--all",
            "--full-history",  # keep merges that bring a change in (a PR merged without squashing)
            f"^{base_commit}",
            "--",
            *files,
        ],
        timeout=GIT_TIMEOUT_S,
    )
    if listed.returncode != 0:
        return []
    newest_first = listed.stdout.split()
    return list(reversed(newest_first[-limit:]))


def commit_diffs(
    mirror: Path, commits: list[str], files: list[str], max_diff_bytes: int
) -> Generator[tuple[str, ChangedLines], None, None]:
    """Each commit's changed lines (first-parent diff, no context) in `files`; a commit whose diff exceeds
    max_diff_bytes is left out. One git process, read as a stream with a cap on the whole output; one
    commit's lines are in memory at a time (close the generator to end the process early)."""
    command = [
        "git",
        "--git-dir",
        str(mirror),
        "--literal-pathspecs",
        "-c",
        "diff.external=",
        "log",
        "--no-walk=unsorted",
        "--patch",
        "--unified=0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--first-parent",
        "--diff-merges=first-parent",
        "--format=%x00commit %H",
        "--stdin",
        "--",
        *files,
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C", "PATH": _path()},
    )
    timer = threading.Timer(GIT_TIMEOUT_S, process.kill)
    timer.start()
    budget = max_diff_bytes * max(len(commits), 1)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("\n".join(commits).encode() + b"\n")
        process.stdin.close()
        commit, size = "", 0
        chunks: list[str] = []
        for raw in process.stdout:
            budget -= len(raw)
            if budget < 0:
                return
            line = raw.decode("utf-8", errors="replace")
            if line.startswith(COMMIT_MARK):
                if commit and size <= max_diff_bytes:
                    yield commit, _changed_lines(chunks)
                commit, chunks, size = line[len(COMMIT_MARK) :].strip(), [], 0
                continue
            size += len(raw)
            if size <= max_diff_bytes:
                chunks.append(line)
        if commit and size <= max_diff_bytes:
            yield commit, _changed_lines(chunks)
    finally:
        timer.cancel()
        process.kill()
        process.wait()


def _changed_lines(chunks: list[str]) -> ChangedLines:
    lines: ChangedLines = Counter()
    add_diff(lines, "".join(chunks))
    return lines


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")
