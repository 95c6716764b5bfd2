"""`hf`: a Hugging Face `datasets` directory of `sft` rows, built in bounded memory.

    OUT/
      data/created_month=YYYY-MM/part-NNNNN.parquet   zstd Parquet shards (Hub layout; the card's config)
      data-NNNNN-of-NNNNN.arrow, dataset_info.json, state.json   `save_to_disk` output: load_from_disk(OUT)
      README.md                                        the dataset card
      _SHA256SUMS                                      every file above, `sha256sum -c` format

Rows are the `sft` rows with one fixed Arrow schema: messages, verdict, scores, consent, upstream match
and step rewards are typed columns; the open-ended documents (tools, judge, reviews, curation) are JSON
text, because their keys vary and one Arrow schema must hold every shard. Rows are buffered into small
row groups and written month by month (shards.MonthShardWriter); the Arrow copy is made by `datasets`
from the Parquet shards, streaming through a cache directory inside OUT that is removed afterwards.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from bugtrail.export.formats.card import CardStats, render
from bugtrail.export.formats.sft import SCHEMA_VERSION as SFT_SCHEMA_VERSION
from bugtrail.export.shards import MonthShardWriter, month_of, write_checksums

SCHEMA_VERSION = "1.0.0"
JSON_COLUMNS = frozenset({"tools", "judge", "reviews", "curation"})
ROWS_PER_GROUP = 200
BYTES_PER_GROUP = 32 * 1024 * 1024
MAX_SHARD_SIZE = "500MB"

_TOOL_CALL = pa.struct(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
    ]
)
_MESSAGE = pa.struct(
    [
        ("role", pa.string()),
        ("content", pa.string()),
        ("tool_calls", pa.list_(_TOOL_CALL)),
        ("tool_call_id", pa.string()),
    ]
)
_STEP_REWARD = pa.struct(
    [
        ("event_id", pa.string()),
        ("seq", pa.int64()),
        ("tool_call_id", pa.string()),
        ("passed", pa.int64()),
        ("failed", pa.int64()),
        ("fail_to_pass_done", pa.bool_()),
        ("reward", pa.float64()),
        ("message_index", pa.int64()),
    ]
)
SCHEMA = pa.schema(
    [
        ("schema_version", pa.string()),
        ("trace_id", pa.string()),
        ("developer_id", pa.string()),
        ("repo_url", pa.string()),
        ("base_commit", pa.string()),
        ("test_command", pa.string()),
        ("bug_description", pa.string()),
        ("created_at", pa.string()),
        ("messages", pa.list_(_MESSAGE)),
        ("message_timestamps", pa.list_(pa.string())),
        ("tools", pa.string()),
        ("tests_passed", pa.bool_()),
        ("resolved", pa.bool_()),
        ("outcome", pa.string()),
        ("error_kind", pa.string()),
        ("reasoning_score", pa.float64()),
        ("judge", pa.string()),
        ("reviews", pa.string()),
        ("review_decision", pa.string()),
        ("human_score", pa.float64()),
        ("licence", pa.string()),
        ("consent", pa.struct([("given_at", pa.string()), ("external_use", pa.bool_())])),
        ("curation", pa.string()),
        ("upstream_commit", pa.string()),
        ("upstream_match", pa.struct([("commit", pa.string()), ("similarity", pa.float64())])),
        ("duplicate_of", pa.string()),
        ("step_rewards", pa.list_(_STEP_REWARD)),
        ("secret_flags", pa.list_(pa.string())),
    ],
    metadata={
        "bugtrail_hf_schema_version": SCHEMA_VERSION,
        "bugtrail_sft_schema_version": SFT_SCHEMA_VERSION,
    },
)


def to_hf_row(sft_row: Mapping[str, Any]) -> dict[str, Any]:
    """An sft row in the hf schema: its own version, open documents as JSON text."""
    row = {name: sft_row.get(name) for name in SCHEMA.names}
    row["schema_version"] = SCHEMA_VERSION
    for name in JSON_COLUMNS:
        value = sft_row.get(name)
        row[name] = None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return row


class HfDatasetWriter:
    """Feed sft rows (oldest first) with add(); finish() writes the Arrow copy, the card and _SHA256SUMS."""

    def __init__(self, out: Path, filters: Mapping[str, Any], export_id: int | None = None) -> None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(f"{out} is not an empty directory; an hf export writes a new one")
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.filters = dict(filters)
        self.export_id = export_id
        self.stats = CardStats()
        self._shards = MonthShardWriter(out / "data", SCHEMA)
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self._month: str | None = None

    def add(self, sft_row: Mapping[str, Any]) -> None:
        try:
            month = month_of(str(sft_row.get("created_at")))
        except ValueError as exc:
            raise ValueError(
                f"row {sft_row.get('trace_id')!r}: created_at {sft_row.get('created_at')!r} is not ISO 8601"
            ) from exc
        if month != self._month:
            self._flush()
            self._month = month
        self.stats.add(sft_row, month)
        self._pending.append(to_hf_row(sft_row))
        self._pending_bytes += _size(sft_row)
        if len(self._pending) >= ROWS_PER_GROUP or self._pending_bytes >= BYTES_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._month is not None:
            self._shards.write(self._month, pa.Table.from_pylist(self._pending, schema=SCHEMA))
        self._pending, self._pending_bytes = [], 0

    def finish(self) -> tuple[str, int]:
        """Returns (sha256 of _SHA256SUMS, total bytes of the files it lists)."""
        self._flush()
        self._shards.close()
        self._save_arrow_copy()
        files = [(str(shard.path.relative_to(self.out)), shard.rows) for shard in self._shards.files]
        card = render(
            self.stats,
            schema_version=SCHEMA_VERSION,
            filters=self.filters,
            export_id=self.export_id,
            json_columns=JSON_COLUMNS,
            files=files,
        )
        (self.out / "README.md").write_text(card, encoding="utf-8")
        return write_checksums(self.out)

    def abort(self) -> None:
        self._shards.close()

    def _save_arrow_copy(self) -> None:
        from datasets import Dataset, Features, disable_progress_bars

        disable_progress_bars()  # the CLI shows its own progress; datasets' bars would interleave
        features = Features.from_arrow_schema(SCHEMA)
        cache = self.out / ".cache"
        try:
            paths = [str(shard.path) for shard in self._shards.files]
            if paths:
                dataset = Dataset.from_parquet(paths, features=features, cache_dir=str(cache))
            else:
                dataset = Dataset.from_dict({name: [] for name in SCHEMA.names}, features=features)
            if dataset.num_rows:
                dataset.save_to_disk(str(self.out), max_shard_size=MAX_SHARD_SIZE)
            else:  # datasets cannot size shards of nothing
                dataset.save_to_disk(str(self.out), num_shards=1)
            del dataset
        finally:
            shutil.rmtree(cache, ignore_errors=True)


def write_hf_from_sft_file(
    rows: Path, out: Path, filters: Mapping[str, Any], export_id: int | None
) -> tuple[int, str]:
    """Build an hf directory from a downloaded sft JSONL file (line by line); returns (rows, sha256)."""
    writer = HfDatasetWriter(out, filters, export_id)
    try:
        with rows.open("rb") as handle:
            for line in handle:
                if line.strip():
                    writer.add(json.loads(line))
    except BaseException:
        writer.abort()
        raise
    sha256, _size_bytes = writer.finish()
    return writer.stats.rows, sha256


def _size(row: Mapping[str, Any]) -> int:
    """Roughly the bytes a row holds: its message texts (what can be large)."""
    total = 0
    for message in row.get("messages") or []:
        total += len(message.get("content") or "")
        for call in message.get("tool_calls") or []:
            total += len(call["function"]["arguments"])
    return total + 1024
