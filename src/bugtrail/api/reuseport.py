"""`bugtrail serve --workers N` with one listening socket per API process (SO_REUSEPORT, Linux).

uvicorn's own multi-process mode binds one socket in the supervisor and every API process accepts from
it: whichever process wakes first takes the connection, and a kept-alive connection stays there, so the
split is an accident (8 batch clients landed 0%/98% on two processes, docs/benchmarks.md). With a socket
of its own per process, all bound to the port with SO_REUSEPORT, the Linux kernel assigns each new
connection to one of them by a hash of its addresses: an even spread. uvicorn's supervisor still runs the
processes (signals, restarts); it hands each one a `ReusePortListener`, which becomes that process's own
socket when the process unpickles it. Elsewhere (no SO_REUSEPORT, or a port chosen by the system) serve
keeps uvicorn's shared socket.
"""

from __future__ import annotations

import socket
import sys
from typing import Any


def supported(port: int) -> bool:
    # Only Linux balances connections over SO_REUSEPORT sockets (BSDs give them all to the last bound);
    # port 0 would give each process a different port.
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") and port != 0


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) when something listens on the port: bound without SO_REUSEPORT,
    this probe fails even against another server's SO_REUSEPORT sockets, so two servers never silently
    share a port."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def listening_socket(host: str, port: int) -> socket.socket:
    """This process's own socket on the shared port (uvicorn's server calls listen on it)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class ReusePortListener:
    """Stands in the socket list uvicorn's supervisor passes to each API process; unpickled there (the
    processes are spawned), it is that process's own listening_socket."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return (listening_socket, (self.host, self.port))


def run(app: str, workers: int, options: dict[str, Any]) -> None:
    """Run `workers` API processes of the app factory `app` under uvicorn's supervisor."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    check_port_free(config.host, config.port)
    Multiprocess(config, sockets=[ReusePortListener(config.host, config.port)]).run()  # type: ignore[list-item]
