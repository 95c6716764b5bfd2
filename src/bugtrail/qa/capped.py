"""A head+tail byte buffer: keeps the first and last `cap/2` bytes of a stream of any length.

Memory stays at most `cap` bytes however much the test prints, so gigabytes of output are counted,
not held.
"""

from __future__ import annotations


class CappedOutput:
    def __init__(self, cap_bytes: int) -> None:
        self.cap = max(cap_bytes, 2)
        self.head_limit = self.cap // 2
        self.tail_limit = self.cap - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        if len(chunk) >= self.tail_limit:
            self.tail = bytearray(chunk[-self.tail_limit :])
        else:
            self.tail += chunk
            overflow = len(self.tail) - self.tail_limit
            if overflow > 0:
                del self.tail[:overflow]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def getvalue(self) -> bytes:
        if not self.truncated:
            return bytes(self.head + self.tail)
        dropped = self.total - len(self.head) - len(self.tail)
        marker = f"\n\n[... bugtrail: {dropped} bytes of output omitted, {self.total} in total ...]\n\n"
        return bytes(self.head) + marker.encode() + bytes(self.tail)

    def text(self) -> str:
        return self.getvalue().decode("utf-8", errors="replace")
