"""Parquet shards partitioned by month: `created_month=YYYY-MM/part-NNNNN.parquet` (hive style).

Exports read traces oldest first, so months arrive in order and one file is open at a time; a file
rolls over after `max_rows` rows. Memory is the one table being written (a batch of rows), never the
dataset. The partition value is in the path only (duckdb: `read_parquet('**/*.parquet',
hive_partitioning = true)` adds `created_month`; pyarrow.dataset with partitioning="hive" likewise).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_KEY = "created_month"
DEFAULT_MAX_ROWS = 50_000


def month_of(created_at: datetime | str) -> str:
    """YYYY-MM of the UTC time (naive datetimes are UTC, as stored)."""
    moment = datetime.fromisoformat(created_at) if isinstance(created_at, str) else created_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m")


@dataclass
class ShardFile:
    path: Path
    month: str
    rows: int = 0


@dataclass
class MonthShardWriter:
    """Writes tables of one schema into month partitions under `root`, one open file at a time."""

    root: Path
    schema: pa.Schema
    max_rows: int = DEFAULT_MAX_ROWS
    files: list[ShardFile] = field(default_factory=list)
    _writer: pq.ParquetWriter | None = None
    _index: dict[str, int] = field(default_factory=dict)

    def write(self, month: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        current = self.files[-1] if self.files and self._writer is not None else None
        if current is None or current.month != month or current.rows >= self.max_rows:
            self._open(month)
        self._writer_for().write_table(table)
        self.files[-1].rows += table.num_rows

    def _open(self, month: str) -> None:
        self.close()
        number = self._index.get(month, 0)
        self._index[month] = number + 1
        directory = self.root / f"{PARTITION_KEY}={month}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{number:05d}.parquet"
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.files.append(ShardFile(path, month))

    def _writer_for(self) -> pq.ParquetWriter:
        assert self._writer is not None
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def rows(self) -> int:
        return sum(shard.rows for shard in self.files)


def write_checksums(out: Path) -> tuple[str, int]:
    lines, total = [], 0
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "_SHA256SUMS"):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
                total += len(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(out).as_posix()}\n")
    listing = "".join(lines).encode()
    (out / "_SHA256SUMS").write_bytes(listing)
    return hashlib.sha256(listing).hexdigest(), total
