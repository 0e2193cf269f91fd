"""Logging set-up shared by hub and node: one line per event, to a file or to stderr."""
from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Sequence

from common.settings import Option, log_level, path_setting

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LOG_OPTIONS = (
    Option("log_file", "", "log to this file (default: standard error)", path_setting, metavar="FILE"),
    Option("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR", log_level, metavar="LEVEL"),
)


def setup_logging(level: str, log_file: str | None, fallback_files: Sequence[Path] = ()) -> None:
    """Log to ``log_file``, else stderr; a windowless process (no stderr) uses the first of
    ``fallback_files`` that can be opened. ``log_file`` that cannot be opened raises OSError and
    leaves the logging as it was, so the error can still be logged."""
    handler = _open_handler(log_file, fallback_files)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    # watchdog logs every file-system event it sees at DEBUG. With the log file in the watched
    # folder, each line written raises an event that logs another line: the hub would log for ever.
    logging.getLogger("watchdog").setLevel(max(logging.getLevelName(level), logging.INFO))


def _open_handler(log_file: str | None, fallback_files: Sequence[Path]) -> logging.Handler:
    if log_file:
        return _file_handler(Path(log_file).expanduser())
    if sys.stderr is not None:
        return logging.StreamHandler(sys.stderr)
    for candidate in fallback_files:
        try:
            return _file_handler(candidate)
        except OSError:
            continue   # nowhere to say so: try the next place
    return logging.NullHandler()


def _file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path, encoding="utf-8")


def logs_to_file() -> bool:
    """Whether log lines go to a file rather than to standard error (or nowhere)."""
    return any(isinstance(h, logging.FileHandler) for h in logging.getLogger().handlers)


def install_exception_hooks(log: logging.Logger) -> None:
    """Log what escapes, in the main thread or another one: a windowless process has no stderr
    where Python would print the traceback, and the log is all that is left of it."""
    def on_main(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.critical("stopped by an unexpected error", exc_info=(kind, exc, tb))

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        log.critical("thread %s stopped by an unexpected error", name,
                     exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = on_main
    threading.excepthook = on_thread
