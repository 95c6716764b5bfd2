"""The dataset card (README.md) of an `hf` export: counts, filters, schema version, licence mix, fields,
QA and review statistics, gathered row by row while the export streams (nothing else is kept).

Every value that came from a trace or a filter is untrusted text: it is escaped for Markdown tables and
written into the YAML header only as JSON strings (JSON is YAML), so no value can end the header or
inject markup.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bugtrail.export.formats.sft import SftRow

_HUB_LICENCE = re.compile(r"^[a-z0-9][a-z0-9.\-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Running:
    """Count, mean, min and max in constant memory."""

    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def __str__(self) -> str:
        if not self.count:
            return "none"
        return f"n={self.count}, mean {self.total / self.count:.2f}, min {self.low:.2f}, max {self.high:.2f}"


@dataclass
class CardStats:
    rows: int = 0
    months: Counter[str] = field(default_factory=Counter)
    licences: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    tests_passed: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    review_decisions: Counter[str] = field(default_factory=Counter)
    reviewed: int = 0
    reviews: int = 0
    human_scores: Running = field(default_factory=Running)
    reasoning_scores: Running = field(default_factory=Running)
    with_checkpoints: int = 0
    fixed_at_a_checkpoint: int = 0
    upstream_matches: int = 0
    duplicates: int = 0
    with_secret_flags: int = 0
    messages: int = 0
    tool_calls: int = 0

    def add(self, row: Mapping[str, Any], month: str) -> None:
        """`row` is an sft row (native values, before any JSON encoding)."""
        self.rows += 1
        self.months[month] += 1
        self.licences[row.get("licence") or "(none)"] += 1
        self.outcomes[row.get("outcome") or "(no QA)"] += 1
        self.tests_passed[_tri(row.get("tests_passed"))] += 1
        self.resolved[_tri(row.get("resolved"))] += 1
        if row.get("review_decision"):
            self.review_decisions[str(row["review_decision"])] += 1
        if row.get("reviews"):
            self.reviewed += 1
            self.reviews += len(row["reviews"])
        if row.get("human_score") is not None:
            self.human_scores.add(float(row["human_score"]))
        if row.get("reasoning_score") is not None:
            self.reasoning_scores.add(float(row["reasoning_score"]))
        rewards = row.get("step_rewards") or []
        if rewards:
            self.with_checkpoints += 1
            self.fixed_at_a_checkpoint += any(reward.get("fail_to_pass_done") for reward in rewards)
        self.upstream_matches += bool(row.get("upstream_commit"))
        self.duplicates += bool(row.get("duplicate_of"))
        self.with_secret_flags += bool(row.get("secret_flags"))
        messages = row.get("messages") or []
        self.messages += len(messages)
        self.tool_calls += sum(len(message.get("tool_calls") or []) for message in messages)


def render(
    stats: CardStats,
    *,
    schema_version: str,
    filters: Mapping[str, Any],
    export_id: int | None,
    json_columns: frozenset[str],
    files: list[tuple[str, int]],
) -> str:
    """The README.md text. `files` are (relative path, rows) of the Parquet shards."""
    licences = [name for name in stats.licences if name != "(none)"]
    hub_licence = licences[0].lower() if len(licences) == 1 and len(stats.licences) == 1 else "other"
    if not _HUB_LICENCE.match(hub_licence):
        hub_licence = "other"
    lines = [
        "---",
        f"license: {json.dumps(hub_licence)}",
        'pretty_name: "bugtrail debugging traces"',
        "task_categories:",
        '- "text-generation"',
        "tags:",
        '- "agent-trajectories"',
        '- "tool-calling"',
        '- "debugging"',
        "configs:",
        '- config_name: "default"',
        "  data_files:",
        '  - split: "train"',
        '    path: "data/**/*.parquet"',
        "---",
        "",
        "# bugtrail debugging traces",
        "",
        "Real developers' debugging sessions recorded by bugtrail: each row is one trace as OpenAI chat "
        "messages with tool calls (`run_command`, `apply_diff`), with its QA verdict (the edits replayed and "
        "the tests run in a sandbox), the judge's and reviewers' scores, licence and provenance flags.",
        "",
        f"- rows: **{stats.rows}**",
        f"- row schema version: `{_md(schema_version)}` (bugtrail `sft` rows; see Fields)",
        f"- export: #{export_id if export_id is not None else '-'}, generated "
        f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"- messages: {stats.messages} ({stats.tool_calls} tool calls)",
        "",
        "Load it with `datasets.load_from_disk(<this directory>)`, or the Parquet shards under `data/` "
        '(partitioned by `created_month`) with `datasets.load_dataset("parquet", data_dir=...)` or duckdb.',
        "",
        "## Filters used",
        "",
        *(
            _table(("filter", "value"), sorted((key, json.dumps(value)) for key, value in filters.items()))
            if filters
            else ["none (every trace)"]
        ),
        "",
        "## Licence mix",
        "",
        *_table(("licence", "rows"), stats.licences.most_common()),
        "",
        "## QA statistics",
        "",
        *_table(("outcome", "rows"), stats.outcomes.most_common()),
        "",
        *_table(
            ("", "true", "false", "unknown"),
            [
                ("tests passed", *(stats.tests_passed[key] for key in ("true", "false", "unknown"))),
                ("resolved", *(stats.resolved[key] for key in ("true", "false", "unknown"))),
            ],
        ),
        "",
        f"- judge reasoning score: {stats.reasoning_scores}",
        f"- traces with step-level checkpoints: {stats.with_checkpoints} "
        f"({stats.fixed_at_a_checkpoint} reach fail_to_pass_done)",
        f"- flagged as matching a later upstream commit: {stats.upstream_matches}",
        f"- near-duplicates of an earlier trace: {stats.duplicates}",
        f"- traces whose diffs carry secret flags: {stats.with_secret_flags}",
        "",
        "## Review statistics",
        "",
        f"- reviewed traces: {stats.reviewed} ({stats.reviews} reviews)",
        f"- human score: {stats.human_scores}",
        "",
        *(
            _table(("review decision", "rows"), stats.review_decisions.most_common())
            if stats.review_decisions
            else ["no review decisions"]
        ),
        "",
        "## Partitions",
        "",
        *_table(("created_month", "rows"), sorted(stats.months.items())),
        "",
        *_table(("file", "rows"), files),
        "",
        "## Fields",
        "",
        *_table(("field", "description"), _fields(json_columns)),
        "",
        "Messages: `role` is user | assistant | tool; an assistant message makes at most one tool call "
        "(`tool_calls[0].function.arguments` is a JSON object in a string) and the next message is the tool "
        "result with the same `tool_call_id`. Reasoning notes are the assistant `content`.",
        "",
    ]
    return "\n".join(lines)


def _fields(json_columns: frozenset[str]) -> list[tuple[str, str]]:
    fields = []
    for name, info in SftRow.model_fields.items():
        description = info.description or ""
        if name in json_columns:
            description = f"{description} (JSON text)".strip()
        fields.append((name, description))
    return fields


def _tri(value: Any) -> str:
    return "true" if value is True else "false" if value is False else "unknown"


def _table(header: tuple[str, ...], rows: Any) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows)
    return lines


def _md(value: Any) -> str:
    """One table cell: no line breaks or control characters, no markup, bounded length."""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > 300:
        text = text[:300] + "…"
    for char in "\\|`*[]<>#":
        text = text.replace(char, "\\" + char)
    return text
