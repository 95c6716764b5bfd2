"""Trace payloads for API tests: the example seed trace and event builders."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

SEED = json.loads((Path(__file__).resolve().parents[2] / "examples" / "seed_trace.json").read_text())


def seed(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED)
    body.update(overrides)
    return body


def event(kind: str, ts: str, **details: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind, "timestamp": ts, "details": details}


def reasoning(ts: str, text: str = "a hypothesis", **extra: Any) -> dict[str, Any]:
    return event("reasoning", ts, text=text, reasoning_type="hypothesis", **extra)
