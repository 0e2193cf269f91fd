"""Hot reload of the watch file.

watchdog observes the file's *folder*, because editors save by writing a temporary file and renaming
it over the original, which a watch on the file itself would lose. Events are debounced, the file is
parsed, and a list that parses and differs from the one in force is handed to ``on_change``. A file
that does not parse is logged with its line number and the previous list stays in force.
"""
from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from common.watchlist import WatchEntry, WatchListError, load_watchlist

log = logging.getLogger("procmesh.hub.watch")

DEBOUNCE_SECONDS = 0.2
_FORCE = "force"
_CHANGED = "changed"
_STOP = "stop"
CONTENT_EVENTS = frozenset({"created", "modified", "moved", "deleted"})


class ListSink(Protocol):
    """Receives each new list as ``[[label, [pattern, ...]], ...]``; closed when the thread ends."""

    def send(self, payload: Any) -> None: ...

    def close(self) -> None: ...


class _FolderEvents(FileSystemEventHandler):
    def __init__(self, target: Path, wake: queue.SimpleQueue[str]) -> None:
        self._target = target
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Opening and reading the file (our own reloads among them) also raises events; only
        # these can change its content.
        if event.event_type not in CONTENT_EVENTS:
            return
        paths = (event.src_path, getattr(event, "dest_path", "") or "")
        if any(p and Path(str(p)).name == self._target.name for p in paths):
            self._wake.put(_CHANGED)


class WatchFileWatcher(threading.Thread):
    """Hands each changed list to ``sink`` from its own thread."""

    def __init__(self, path: Path, current: list[WatchEntry], sink: ListSink,
                 debounce: float = DEBOUNCE_SECONDS) -> None:
        super().__init__(name="procmesh-watch", daemon=True)
        self.path = path.resolve()
        self._current = current
        self._sink = sink
        self._debounce = debounce
        self._wake: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._observer = Observer()
        self._observer.schedule(_FolderEvents(self.path, self._wake), str(self.path.parent),
                                recursive=False)

    def start(self) -> None:
        self._observer.start()
        super().start()

    def request_reload(self) -> None:
        """Re-read and re-publish the file now, changed or not (SIGHUP)."""
        self._wake.put(_FORCE)

    def stop(self, within: float = 2.0) -> None:
        self._wake.put(_STOP)
        # watchdog's inotify emitter logs a spurious ERROR when an event races its own shutdown.
        logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
        self._observer.stop()
        self._observer.join(within)
        self.join(within)

    def run(self) -> None:
        try:
            self._serve()
        finally:
            self._sink.close()

    def _serve(self) -> None:
        while True:
            signals = {self._wake.get()}
            # Editors write a file in several steps; wait until the folder has been quiet a moment.
            while _STOP not in signals:
                try:
                    signals.add(self._wake.get(timeout=self._debounce))
                except queue.Empty:
                    break
            if _STOP in signals:
                return
            self._reload(forced=_FORCE in signals)

    def _reload(self, forced: bool) -> None:
        try:
            entries = load_watchlist(self.path)
        except WatchListError as exc:
            log.error("watch file %s rejected, keeping the previous list (%d labels): %s",
                      self.path, len(self._current), exc)
            return
        if entries == self._current and not forced:
            log.debug("watch file %s touched, content unchanged", self.path)
            return
        self._current = entries
        self._sink.send([[e.label, list(e.patterns)] for e in entries])
