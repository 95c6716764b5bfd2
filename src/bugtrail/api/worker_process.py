"""The app of one API process when `bugtrail serve --workers N` runs several (uvicorn imports this).

The parent (uvicorn's supervisor) has already migrated the database, created the first-start admin key and
started the one embedded QA worker; each API process only serves HTTP. An API process dies with its
parent, so a kill -9 of `bugtrail serve` leaves no orphan serving on the port.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal

from fastapi import FastAPI

from bugtrail.api.app import create_app
from bugtrail.config import get_settings

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the supervisor's own shutdown still stops us
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before prctl took effect
        os._exit(1)


def create_worker_app() -> FastAPI:
    _die_with_parent()
    return create_app(get_settings())
