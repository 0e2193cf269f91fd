"""Logging set-up shared by hub and node: one line per event, to a file or to stderr."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from common.settings import Option, log_level

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LOG_OPTIONS = (
    Option("log_file", "", "log to this file (default: standard error)", metavar="FILE"),
    Option("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR", log_level, metavar="LEVEL"),
)


def setup_logging(level: str, log_file: str | None, fallback_file: Path | None = None) -> None:
    """Log to ``log_file``, else stderr; a windowless process (no stderr) uses ``fallback_file``."""
    target = log_file or (str(fallback_file) if sys.stderr is None and fallback_file else None)
    if target:
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(Path(target).expanduser(), encoding="utf-8")
    elif sys.stderr is not None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # watchdog logs every file-system event it sees at DEBUG. With the log file in the watched
    # folder, each line written raises an event that logs another line: the hub would log for ever.
    logging.getLogger("watchdog").setLevel(max(logging.getLevelName(level), logging.INFO))
