"""Hot reload of the watch file.

watchdog observes the file's *folder*, because editors save by writing a temporary file and renaming
it over the original, which a watch on the file itself would lose. Events are debounced, the file is
parsed, and a list that parses and differs from the one in force is handed to the sink. A file
that does not parse is logged with its line number and the previous list stays in force.

Some changes raise no event in that folder: a file on a network share (NFS, SMB) edited from
another computer, and the target of a symlinked watch file. So the hub also asks for a re-read on
its re-broadcast tick (``request_check``), and the path is kept as given, symlinks unresolved, so
each read follows the links as they are now. Where the system refuses a watch (inotify limits),
that tick is all there is, and the log says so.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from common.errors import os_error_line
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


def watch_folder(folder: Path, handler: FileSystemEventHandler, instead: str) -> BaseObserver | None:
    """A started observer that passes ``folder``'s events to ``handler``; None, after one log line
    ending with ``instead``, when the system will not watch it (inotify's limits on instances
    and watches per user, a folder that is gone)."""
    observer: BaseObserver | None = None
    try:
        observer = Observer()
        observer.schedule(handler, str(folder), recursive=False)
        observer.start()
    except OSError as exc:
        if observer is not None and observer.is_alive():
            stop_observer(observer)
        log.warning("cannot watch %s for changes (%s): %s", folder, os_error_line(exc), instead)
        return None
    return observer


def stop_observer(observer: BaseObserver, within: float = 2.0) -> None:
    # watchdog's inotify emitter logs a spurious ERROR when an event races its own shutdown.
    logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
    observer.stop()
    observer.join(within)


class WatchFileWatcher(threading.Thread):
    """Hands each changed list to ``sink`` from its own thread."""

    def __init__(self, path: Path, current: list[WatchEntry], sink: ListSink,
                 debounce: float = DEBOUNCE_SECONDS, checked_every: float = 30.0) -> None:
        """``checked_every``: how often the owner calls ``request_check`` (for the log only)."""
        super().__init__(name="procmesh-watch", daemon=True)
        # Absolute, but symlinks left alone: resolving them would pin the target of the moment.
        self.path = Path(os.path.abspath(path))
        self._current = current
        self._rejected = ""   # why the file on disk was last refused, so it is logged once
        self._sink = sink
        self._debounce = debounce
        self._checked_every = checked_every
        self._wake: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        self._observer = watch_folder(self.path.parent, _FolderEvents(self.path, self._wake),
                                      f"the watch list is re-read every {self._checked_every:g} s "
                                      "instead")
        super().start()

    def request_reload(self) -> None:
        """Re-read and re-publish the file now, changed or not (SIGHUP)."""
        self._wake.put(_FORCE)

    def request_check(self) -> None:
        """Re-read the file and hand the list on if it changed: for changes no event reports."""
        self._wake.put(_CHANGED)

    def stop(self, within: float = 2.0) -> None:
        self._wake.put(_STOP)
        if self._observer is not None:
            stop_observer(self._observer, within)
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
            # Re-read every tick: the same refusal is logged once, until the reason changes.
            if str(exc) != self._rejected or forced:
                log.error("watch file %s rejected, keeping the previous list (%d labels): %s",
                          self.path, len(self._current), exc)
            self._rejected = str(exc)
            return
        self._rejected = ""
        if entries == self._current and not forced:
            log.debug("watch file %s touched, content unchanged", self.path)
            return
        self._current = entries
        self._sink.send([[e.label, list(e.patterns)] for e in entries])
