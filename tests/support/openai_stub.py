"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI API (/v1/chat/completions) for tests.

It records every request and answers from a script (a queue of actions; when the queue is empty it uses
the default action):

    with OpenAIStub() as stub:
        stub.script(Status(429, headers={"Retry-After": "0"}), Answer(score=4.0))
        settings = get_settings(judge="openai", openai_api_key="sk-test", openai_base_url=stub.base_url)
        ...
        stub.requests[0].body["model"]

Actions: Answer (a valid structured answer), Content (any assistant text, e.g. malformed JSON),
Status (an HTTP error), Hang (sleep before answering, to trigger client timeouts), Refusal, Truncated,
RawBody (a 200 whose body is not a chat completion).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CRITERIA = (
    "hypothesis_quality",
    "alternatives_considered",
    "change_rationale",
    "learning_from_failures",
    "consistency",
)


@dataclass
class Answer:
    score: float = 4.0
    criteria: dict[str, int] | None = None
    comments: str = "Stub judge: hypotheses are specific (#1) and each edit is explained (#4)."
    steering_detected: bool = False
    usage: tuple[int, int] | None = (1234, 56)

    def content(self) -> str:
        criteria = self.criteria or {name: round(self.score) for name in CRITERIA}
        return json.dumps(
            {
                "criteria": criteria,
                "reasoning_score": self.score,
                "judge_comments": self.comments,
                "steering_detected": self.steering_detected,
            }
        )


@dataclass
class Content:
    text: str
    finish_reason: str = "stop"


@dataclass
class Refusal:
    text: str = "I can't help with that."


@dataclass
class Truncated:
    text: str = '{"criteria": {"hypothesis_quality": 4, "alter'


@dataclass
class Status:
    code: int
    body: dict[str, Any] = field(default_factory=lambda: {"error": {"message": "stub error", "type": "stub"}})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RawBody:
    """A 200 response whose body is not a chat completion (a misbehaving gateway)."""

    body: bytes = b"<html>upstream says hi</html>"
    content_type: str = "application/json"


@dataclass
class Hang:
    seconds: float
    then: Any = None  # the action to answer with if the client is still there


Action = Answer | Content | Refusal | Truncated | Status | Hang | RawBody


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw_size: int
    received_at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)


class OpenAIStub:
    def __init__(self, default: Action | None = None) -> None:
        self.default: Action = default or Answer()
        self.requests: list[RecordedRequest] = []
        self._script: deque[Action] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *actions: Action) -> None:
        with self._lock:
            self._script.extend(actions)

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers that are hanging
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_action(self) -> Action:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                with stub._lock:
                    stub.requests.append(
                        RecordedRequest(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                            raw_size=len(raw),
                            received_at=time.monotonic(),
                        )
                    )
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                self._act(stub._next_action(), body, len(raw))

            def _act(self, action: Action, body: dict[str, Any], size: int) -> None:
                if isinstance(action, Hang):
                    if stub._stopping.wait(action.seconds):
                        return
                    self._act(action.then or stub.default, body, size)
                elif isinstance(action, RawBody):
                    self._send_bytes(200, action.body, {"Content-Type": action.content_type})
                elif isinstance(action, Status):
                    self._send(action.code, action.body, action.headers)
                elif isinstance(action, Answer):
                    self._complete(body, action.content(), "stop", action.usage or (size // 4, 50))
                elif isinstance(action, Content):
                    self._complete(
                        body, action.text, action.finish_reason, (size // 4, len(action.text) // 4)
                    )
                elif isinstance(action, Truncated):
                    self._complete(body, action.text, "length", (size // 4, 1024))
                elif isinstance(action, Refusal):
                    self._complete(body, None, "stop", (size // 4, 10), refusal=action.text)

            def _complete(
                self,
                body: dict[str, Any],
                content: str | None,
                finish_reason: str,
                usage: tuple[int, int],
                refusal: str | None = None,
            ) -> None:
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-stub-{len(stub.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "stub"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content, "refusal": refusal},
                                "finish_reason": finish_reason,
                                "logprobs": None,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": usage[0],
                            "completion_tokens": usage[1],
                            "total_tokens": usage[0] + usage[1],
                        },
                    },
                )

            def _send(
                self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                self._send_bytes(code, json.dumps(payload).encode(), headers)

            def _send_bytes(self, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                headers = {"Content-Type": "application/json", **(headers or {})}
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout); nothing to answer

        return Handler
