"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load that the client can afford.

On a 2-core machine the load generator competes with the server for CPU; httpx spends more CPU per request
than the server's own handler. This client writes pre-encoded requests and parses only the status line,
Content-Length and body, so almost all the CPU goes to the server being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import time
from typing import Any


class RawConnection:
    def __init__(self, host: str, port: int, key: str | None = None, timeout: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None

    def encode(self, method: str, path: str, body: bytes = b"") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
        if self.key:
            head += f"authorization: Bearer {self.key}\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one pre-encoded request, reconnecting once if the kept-alive connection was closed."""
        for attempt in (0, 1):
            if self._writer is None:
                await self._connect()
            try:
                return await asyncio.wait_for(self._roundtrip(request), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _roundtrip(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        await self._writer.drain()
        status_line = await self._reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body

    async def request(self, method: str, path: str, payload: Any = None) -> tuple[int, Any, float]:
        """(status, parsed JSON body, seconds) for one request."""
        body = b"" if payload is None else json.dumps(payload).encode()
        started = time.perf_counter()
        status, raw = await self.send(self.encode(method, path, body))
        elapsed = time.perf_counter() - started
        return status, (json.loads(raw) if raw else None), elapsed


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an unsorted list; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def raw_exchange(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    """Send raw bytes, return what the server answers (until it closes or a full small response came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may refuse before reading everything; its answer is what matters.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])
