"""Is the worker process that made a container or scratch dir still alive? Answered safely.

A pid means nothing outside its own pid namespace (a worker in a container with host networking shares the
host name but not the pids), and pids are reused. So a process is identified by host name, pid-namespace
inode, pid and the process start time; only an owner in *our* namespace can be declared dead. Anything
else is left to the age rule of the caller.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessTag:
    host: str
    pidns: str
    pid: int
    start: str

    def encode(self) -> str:
        """host.pidns.pid.start, safe for a directory name and a Docker label."""
        return ".".join((_clean(self.host), self.pidns, str(self.pid), self.start))

    @classmethod
    def decode(cls, text: str) -> ProcessTag | None:
        parts = text.rsplit(".", 3)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])


def _clean(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", host)


def _pidns() -> str:
    try:
        return re.sub(r"\D", "", os.readlink("/proc/self/ns/pid")) or "0"
    except OSError:
        return "0"


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may contain spaces, so split after its ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def current() -> ProcessTag:
    pid = os.getpid()
    return ProcessTag(socket.gethostname(), _pidns(), pid, _start_time(pid) or "0")


def owner_is_dead(tag: ProcessTag | None) -> bool:
    """True only when we can see the owner's namespace and the process there is gone (or a newer one)."""
    if tag is None:
        return False
    me = current()
    if (_clean(tag.host), tag.pidns) != (_clean(me.host), me.pidns):
        return False
    if tag.pid == me.pid and tag.start == me.start:
        return False
    return _start_time(tag.pid) != tag.start
