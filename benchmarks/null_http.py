"""A null HTTP/1.1 server: answers every request with the same small JSON, as fast as it can.

    python benchmarks/null_http.py PORT

benchmarks/ingest_bench.py runs its load client against this (in a separate process, like the real
server) before measuring bugtrail: the figures show what the client and the machine cost on their own
(the client's CPU per request, the latency floor at the offered load right now), so a slow or busy
client is not mistaken for a slow server. The answer is an append's (`accepted: 1`), so the client's
checks pass unchanged.
"""

from __future__ import annotations

import asyncio
import sys

ANSWER = b'{"trace_id":"00000000-0000-0000-0000-000000000000","accepted":1,"duplicates":0,"event_ids":[]}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(ANSWER)).encode()
    + b"\r\n\r\n"
    + ANSWER
)


class NullProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport: it can write

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return  # the body is still arriving
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(NullProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
    else:
        uvloop.run(serve(port))


if __name__ == "__main__":
    main()
