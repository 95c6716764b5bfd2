"""Webhook receivers on 127.0.0.1: `Receiver`, a real HTTP server that records what it is sent, and
`RawReceiver`, which misbehaves on purpose (huge, drip-fed and hanging answers).

RawReceiver uses raw sockets, so each answer is exactly what the test scripts (http.server would buffer and
fix things up).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MiB = 1024 * 1024
Answer = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawReceiver:
    """Accepts connections, reads one request each, then lets `answer` write whatever it wants."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[float, bytes]] = []  # (monotonic arrival, raw request)
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            request = _read_request(conn)
            self.requests.append((time.monotonic(), request))
            self.answer(conn, self.stopping)

    def close(self) -> None:
        self.stopping.set()
        self._accept.join(timeout=5)
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RawReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def huge_answer(statuses: list[int], size: int = 400 * MiB) -> Answer:
    """Answer each request with the next status and `size` bytes of body, streamed from one 1 MiB buffer."""
    block = b"x" * MiB

    def answer(conn: socket.socket, stopping: threading.Event) -> None:
        status = statuses.pop(0) if statuses else 200
        head = f"HTTP/1.1 {status} Whatever\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n\r\n"
        conn.sendall(head.encode())
        sent = 0
        while sent < size and not stopping.is_set():
            conn.sendall(block[: min(MiB, size - sent)])  # raises once the sender hangs up
            sent += MiB

    return answer


def drip_answer(prefix: bytes, drip: bytes, interval_s: float) -> Answer:
    """Send `prefix` at once, then `drip` one byte per interval (never finishing within a test)."""

    def answer(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(prefix)
        for byte in drip:
            if stopping.wait(interval_s):
                return
            conn.sendall(bytes([byte]))

    return answer


def hang_answer(conn: socket.socket, stopping: threading.Event) -> None:
    """Read the request, never answer."""
    stopping.wait(60)


def ok_answer(conn: socket.socket, stopping: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests; `statuses` scripts its answers."""

    def __init__(self, port: int = 0, statuses: list[int] | None = None) -> None:
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
