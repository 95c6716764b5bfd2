"""Send one webhook attempt with bounded cost: one total deadline, a few KiB of the answer at most.

The attempt (connect, TLS, send, status line and headers, the capped error body) runs under a single
`asyncio.timeout`, so a receiver that drip-feeds its answer one byte at a time is cut off at the deadline
(per-operation socket timeouts would restart on every byte). A 2xx is a delivery as soon as its status
arrives; the body is read only for a non-2xx, and only up to `max_response_bytes`, then the connection is
dropped, so a receiver answering 400 MiB costs a few KiB of memory.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from bugtrail.webhooks.signing import SIGNATURE_HEADER, signature_header
from bugtrail.webhooks.ssrf import DestinationPolicy, PinnedTarget, RefusedDestination

ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    retryable: bool


@dataclass(frozen=True)
class Attempt:
    """Everything one attempt needs, detached from the database."""

    delivery_id: int
    event: str
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class SendLimits:
    deadline_s: float
    max_response_bytes: int


def delivery_body(delivery_id: int, event: str, created_at_iso: str, payload: dict[str, Any]) -> bytes:
    """The JSON body; built from the stored row so every retry sends the same bytes."""
    document = {"id": delivery_id, "event": event, "created_at": created_at_iso, "data": payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def send(
    attempt: Attempt,
    policy: DestinationPolicy,
    limits: SendLimits,
    verify: ssl.SSLContext | bool = True,
) -> Outcome:
    """One attempt; never raises for network trouble (it becomes a retryable Outcome)."""
    try:
        target = policy.resolve(attempt.url)
    except RefusedDestination as exc:
        return Outcome(False, None, exc.message, retryable=False)
    return _run_to_completion(_send_within_deadline(attempt, target, limits, verify))


def _run_to_completion(coroutine: Coroutine[Any, Any, Outcome]) -> Outcome:
    """asyncio.run, also from a thread whose event loop is already running (an embedding application or
    a test harness calling the worker synchronously): then the attempt gets a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="webhook-send") as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _send_within_deadline(
    attempt: Attempt, target: PinnedTarget, limits: SendLimits, verify: ssl.SSLContext | bool
) -> Outcome:
    status: list[int] = []  # set as soon as the status line arrives
    head = bytearray()
    try:
        async with asyncio.timeout(limits.deadline_s):
            await _post(attempt, target, limits.max_response_bytes, verify, status, head)
    except TimeoutError:
        if not status:
            return Outcome(
                False, None, f"no answer within the {limits.deadline_s:g} s deadline", retryable=True
            )
    except httpx.HTTPError as exc:
        if not status:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT], retryable=True)
    return _judge(status[0], bytes(head))


async def _post(
    attempt: Attempt,
    target: PinnedTarget,
    max_bytes: int,
    verify: ssl.SSLContext | bool,
    status: list[int],
    head: bytearray,
) -> None:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "bugtrail-webhooks/1",
        "Host": target.host_header,
        "X-Bugtrail-Event": attempt.event,
        "X-Bugtrail-Delivery": str(attempt.delivery_id),
        SIGNATURE_HEADER: signature_header(attempt.secret, attempt.body),
    }
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        # Connect to the checked IP but verify the certificate for (and send SNI of) the hostname.
        extensions["sni_hostname"] = target.host
    async with (
        httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=verify, timeout=None) as client,
        client.stream(
            "POST", target.pinned_url, content=attempt.body, headers=headers, extensions=extensions
        ) as response,
    ):
        status.append(response.status_code)
        if 200 <= response.status_code < 300:
            return  # delivered; the body is not ours to wait for
        # aiter_raw: no decompression, so a small gzip bomb stays small.
        async for chunk in response.aiter_raw():
            head.extend(chunk[: max_bytes - len(head)])
            if len(head) >= max_bytes:
                return  # leaving the block closes the connection with the rest unread


def _judge(status_code: int, head: bytes) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome(True, status_code, None, retryable=False)
    # Redirects are not followed (they could point inside the network); they count as failures.
    retryable = status_code >= 500 or status_code in (408, 429) or 300 <= status_code < 400
    text = head[:200].decode("utf-8", errors="replace")
    return Outcome(False, status_code, f"HTTP {status_code}: {text}", retryable=retryable)
