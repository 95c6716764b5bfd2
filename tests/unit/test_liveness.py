"""Orphan detection must never call a live worker dead (other pid namespaces, reused pids)."""

import subprocess
import sys
from dataclasses import replace

from bugtrail.qa import liveness


def tag_of(pid: int) -> liveness.ProcessTag:
    me = liveness.current()
    return replace(me, pid=pid, start=liveness._start_time(pid) or "gone")


def test_tag_round_trips_through_its_encoding():
    me = liveness.current()
    assert liveness.ProcessTag.decode(me.encode()) == replace(me, host=me.encode().rsplit(".", 3)[0])
    assert liveness.ProcessTag.decode("garbage") is None


def test_live_process_is_alive_and_exited_one_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tag = tag_of(child.pid)
        assert not liveness.owner_is_dead(tag)
    finally:
        child.kill()
        child.wait()
    assert liveness.owner_is_dead(tag)
    assert not liveness.owner_is_dead(liveness.current())


def test_reused_pid_counts_as_dead():
    me = liveness.current()
    assert liveness.owner_is_dead(replace(me, start="1"))


def test_owner_in_another_pid_namespace_or_host_is_never_declared_dead():
    me = liveness.current()
    assert not liveness.owner_is_dead(replace(me, pidns="4026530000", pid=999_999, start="1"))
    assert not liveness.owner_is_dead(replace(me, host="elsewhere", pid=999_999, start="1"))
    assert not liveness.owner_is_dead(None)
