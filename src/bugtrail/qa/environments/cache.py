"""The environment image cache: content-hash keys, one build per key (file locks), last use, LRU pruning.

Layout under <data_dir>/env-cache/: index/<key>.json (tag, sizes, last use, python version), locks/<key>.lock.
Images are tagged `bugtrail-env:<key[:16]>` with labels; a tag exists only for a complete build whose index
entry was written (the build itself is untagged until then), so nothing is ever half-cached.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bugtrail.config import Settings
from bugtrail.qa.docker_api import LABEL_ROLE
from bugtrail.qa.environments.schemas import EnvironmentPlan

TEMPLATE_VERSION = "7"  # bump when env.Dockerfile, install.sh or entry.sh change what an image contains
ENV_REPOSITORY = "bugtrail-env"
ROLE_ENV = "qa-env"
LABEL_KEY = "bugtrail.env.key"
LABEL_SOURCE = "bugtrail.env.source"
LABEL_REPO = "bugtrail.env.repo"
GB = 1024**3
MAX_DEPENDENCY_FILE_BYTES = 4 * 1024 * 1024


class EnvCacheError(Exception):
    """The cache's own storage failed (a full disk, permissions): the image is not kept."""


def cache_key(plan: EnvironmentPlan, base_image_id: str, tree: Path, dependency_files: list[str]) -> str:
    """sha256 over everything that shapes the image: template, base image, plan, dependency files' content."""
    digest = hashlib.sha256()
    shape = plan.model_dump(mode="json", exclude={"notes": True, "inferred": {"__all__": {"why"}}})
    # plans without inferred packages, an era bound or an era check keep the keys they had before
    for optional in ("inferred", "pytest_below", "project_imports", "dependencies_as_of"):
        if not shape[optional]:
            del shape[optional]
    document = {"template": TEMPLATE_VERSION, "base_image_id": base_image_id, "plan": shape}
    digest.update(json.dumps(document, sort_keys=True).encode())
    for relative in sorted(set(dependency_files)):
        path = tree / relative
        digest.update(b"\0file\0" + relative.encode() + b"\0")
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as handle:
                    digest.update(handle.read(MAX_DEPENDENCY_FILE_BYTES))
    return digest.hexdigest()


def env_tag(key: str) -> str:
    return f"{ENV_REPOSITORY}:{key[:16]}"


@dataclass
class CacheEntry:
    key: str
    tag: str
    image_id: str
    repo_url: str
    source: str
    python_version: str | None
    unique_bytes: int
    built_at: float
    last_used: float
    build_s: float | None = None
    notes: list[str] | None = None  # the build's fallbacks (BuildOutcome.notes); None in older index entries
    inferred: dict[str, list[str]] | None = None  # what the build's inferred step installed

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheEntry:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


class EnvCache:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir.resolve() / "env-cache"
        self.index_dir = self.root / "index"
        self.lock_dir = self.root / "locks"

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive per key across processes on this machine (workers share data_dir)."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with (self.lock_dir / f"{key[:32]}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def get(self, key: str) -> CacheEntry | None:
        try:
            return CacheEntry.from_dict(json.loads((self.index_dir / f"{key}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def record(self, entry: CacheEntry) -> None:
        """Write the index entry atomically; EnvCacheError when the disk refuses (nothing is recorded)."""
        path = self.index_dir / f"{entry.key}.json"
        partial = path.with_suffix(f".partial-{os.getpid()}")
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with partial.open("w") as handle:
                json.dump(entry.__dict__, handle)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise EnvCacheError(
                f"cannot write the environment cache index under {self.index_dir}: {exc}"
            ) from exc

    def touch(self, key: str) -> None:
        entry = self.get(key)
        if entry is not None:
            entry.last_used = time.time()
            with contextlib.suppress(EnvCacheError):
                self.record(entry)

    def forget(self, key: str) -> None:
        with contextlib.suppress(OSError):
            (self.index_dir / f"{key}.json").unlink()

    def entries(self) -> list[CacheEntry]:
        out = []
        for path in sorted(self.index_dir.glob("*.json")) if self.index_dir.is_dir() else []:
            entry = self.get(path.stem)
            if entry is not None:
                out.append(entry)
        return out


def env_images(client: Any) -> list[Any]:
    return list(client.images.list(filters={"label": f"{LABEL_ROLE}={ROLE_ENV}"}))


def listing(settings: Settings, client: Any) -> list[dict[str, Any]]:
    """One row per environment image known to the daemon, with its index entry (if this data_dir has one)."""
    cache = EnvCache(settings)
    rows = []
    for image in env_images(client):
        labels = image.labels or {}
        key = labels.get(LABEL_KEY, "")
        entry = cache.get(key) if key else None
        created = _created(image)
        rows.append(
            {
                "key": key,
                "tag": next((t for t in image.tags if t.startswith(ENV_REPOSITORY + ":")), image.short_id),
                "image_id": image.id,
                "tags": list(image.tags),
                "repo_url": labels.get(LABEL_REPO, ""),
                "source": labels.get(LABEL_SOURCE, ""),
                "size_bytes": entry.unique_bytes if entry else int(image.attrs.get("Size") or 0),
                "created": created,
                "last_used": entry.last_used if entry else created,
                "python_version": entry.python_version if entry else None,
            }
        )
    return sorted(rows, key=lambda row: row["last_used"], reverse=True)


def prune(
    settings: Settings,
    client: Any,
    *,
    everything: bool = False,
    older_than_s: float | None = None,
    max_bytes: int | None = None,
    keep: set[str] | frozenset[str] = frozenset(),
    repo_prefix: str | None = None,
) -> list[dict[str, Any]]:
    """Remove environment images: all, those unused for `older_than_s`, or least recently used ones until the
    rest fits `max_bytes`; only those of repositories under `repo_prefix` when given. Images in use by a
    container are left alone. Returns the rows removed."""
    import docker.errors

    cache = EnvCache(settings)
    rows = sorted(listing(settings, client), key=lambda row: row["last_used"])
    total = sum(row["size_bytes"] for row in rows)
    now = time.time()
    removed = []
    for row in rows:
        if row["key"] in keep or (repo_prefix and not row["repo_url"].startswith(repo_prefix)):
            continue
        stale = older_than_s is not None and now - row["last_used"] > older_than_s
        over = max_bytes is not None and total > max_bytes
        if not (everything or stale or over):
            continue
        try:
            for tag in row["tags"] or [row["image_id"]]:
                client.images.remove(tag, force=False)
        except docker.errors.APIError:
            continue  # in use (a running test) or already gone
        if row["key"]:
            cache.forget(row["key"])
        total -= row["size_bytes"]
        removed.append(row)
    return removed


def cap_bytes(settings: Settings) -> int:
    return int(settings.env_cache_max_gb * GB)


def _created(image: Any) -> float:
    from datetime import datetime

    raw = str(image.attrs.get("Created", ""))
    try:
        return datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
