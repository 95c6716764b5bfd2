"""A small JSON-over-HTTP transport on the standard library.

http.client imports in ~15 ms where httpx takes ~90 ms; the developer runs `bugtrail note` all day, so the
recorder stays on the standard library. One keep-alive connection per thread makes a Client thread-safe.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

USER_AGENT = "bugtrail-recorder/0.1"

# Statuses worth retrying later: the request may succeed unchanged.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class TransportError(Exception):
    """The server could not be reached or did not answer (connection refused, timeout, reset)."""


class ApiError(Exception):
    """The server answered with an error status; `error`/`detail` come from its JSON body."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(f"HTTP {status}: {error}")
        self.status = status
        self.error = error
        self.detail = detail

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUSES


@dataclass
class Response:
    status: int
    body: Any


class Transport:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server URL must look like http://host:port, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._scheme == "https":
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Response:
        url = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        effective_timeout = self.timeout if timeout is None else timeout
        # A kept-alive connection may have been closed by the server meanwhile: retry once on a fresh one.
        for attempt in (1, 2):
            conn = self._connection(effective_timeout)
            try:
                conn.request(method, url, body=body, headers=headers)
                raw = conn.getresponse()
                data = raw.read()
                status = raw.status
                if raw.will_close:
                    self.close()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2:
                    raise TransportError(f"connection to {self.base_url} lost: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                reason = "timed out" if isinstance(exc, socket.timeout | TimeoutError) else str(exc)
                raise TransportError(f"cannot reach {self.base_url}: {reason}") from exc
        parsed: Any = None
        if data:
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = data.decode("utf-8", "replace")[:2000]
        if status >= 400:
            if isinstance(parsed, dict):
                raise ApiError(status, str(parsed.get("error") or parsed), parsed.get("detail"))
            raise ApiError(status, str(parsed or http.client.responses.get(status, "error")))
        return Response(status, parsed)
