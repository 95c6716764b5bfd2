"""`bugtrail watch`: snapshot shortly after files are saved (debounced), with the watchdog library.

Editors write a file in bursts (temp file, rename, chmod); a snapshot runs once the tree has been quiet for
`quiet_s`, or at the latest `max_delay_s` after the first change, so a long burst still gets recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _Changes(FileSystemEventHandler):
    def __init__(self, root: Path, git_dir: Path) -> None:
        self.ignored = [str(git_dir.resolve()), str((root / ".git").resolve())]
        self.first_at: float | None = None
        self.last_at = 0.0
        self.wakeup = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads are not edits
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if all(not p or any(p.startswith(ignored) for ignored in self.ignored) for p in paths):
            return
        now = time.monotonic()
        self.first_at = self.first_at or now
        self.last_at = now
        self.wakeup.set()


def watch(
    root: Path,
    git_dir: Path,
    on_change: Callable[[], bool],
    quiet_s: float = 1.0,
    max_delay_s: float = 10.0,
    stop: threading.Event | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Call on_change() after debounced file changes; stop when it returns False, `alive()` turns False
    (checked every few seconds: the session was finished elsewhere) or `stop` is set."""
    stop = stop or threading.Event()
    handler = _Changes(root, git_dir)
    observer = Observer()
    observer.schedule(handler, str(root), recursive=True)
    observer.start()
    checked_at = time.monotonic()
    try:
        while not stop.is_set():
            handler.wakeup.wait(timeout=1.0)
            if handler.first_at is None:
                if time.monotonic() - checked_at > 2.0:
                    checked_at = time.monotonic()
                    if not alive():
                        return
                continue
            now = time.monotonic()
            if now - handler.last_at < quiet_s and now - handler.first_at < max_delay_s:
                time.sleep(min(quiet_s, 0.2))
                continue
            handler.first_at = None
            handler.wakeup.clear()
            if not on_change():
                return
    finally:
        observer.stop()
        observer.join(timeout=5)
