"""Run git with what we allow, and nothing the environment or an untrusted tree adds.

Standard library only: the edit applier (qa.patching) imports it inside the runner container too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_LOCAL_TIMEOUT_S = 300.0
# Never let git prompt for credentials or run transports we did not allow.
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}
# For git run on a tree an edit may have shaped: no user/system config, no attributes file, no hooks, no
# fsmonitor. Repository config is neutralised by the caller (a clean --git-dir outside the tree).
_ISOLATED_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ATTR_NOSYSTEM": "1",
    "XDG_CONFIG_HOME": "/nonexistent",
    "GIT_PROTOCOL_FROM_USER": "0",
}
ISOLATED_CONFIG = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.attributesFile=/dev/null",
    "-c",
    "core.symlinks=true",
    "-c",
    "protocol.allow=never",
]


def git(
    args: list[str],
    cwd: Path | None = None,
    timeout: float = GIT_LOCAL_TIMEOUT_S,
    input_text: str | None = None,
    allow_protocols: str | None = None,
    isolated: bool = False,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_GIT_ENV}
    if isolated:
        # Inherited GIT_* (GIT_DIR, GIT_CONFIG_COUNT/KEY/VALUE, ...) could re-enable what we switch off.
        env = {key: value for key, value in env.items() if not key.startswith("GIT_")}
        env.update({**_GIT_ENV, **_ISOLATED_ENV})
        args = [*ISOLATED_CONFIG, *args]
    if allow_protocols is not None:
        env["GIT_ALLOW_PROTOCOL"] = allow_protocols
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
