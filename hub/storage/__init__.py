"""Where the hub keeps sessions and nodes: SQLite (the embedded default) or MariaDB."""
from __future__ import annotations

from .base import (NodeRow, NodeStatus, SessionRow, Storage, StorageError, StorageUnavailable,
                   UsageRow)
from .dburl import DatabaseURL, parse_db_url, password_in_url
from .mariadb import MariaDBStorage
from .sqlite import SQLiteStorage

__all__ = ["DatabaseURL", "NodeRow", "NodeStatus", "SessionRow", "Storage", "StorageError",
           "StorageUnavailable", "UsageRow", "open_storage", "parse_db_url", "password_in_url"]


def open_storage(url: str, password_file: str = "", create: bool = True) -> Storage:
    """Connect to the database url names; StorageError (or StorageUnavailable) with one clear line.

    create=False (commands that only read): an SQLite file that does not exist is an error
    ("no database at ...") instead of a new empty file.
    """
    parsed = parse_db_url(url, password_file=password_file)
    if parsed.backend == "sqlite":
        return SQLiteStorage(parsed.path, create=create)
    return MariaDBStorage(parsed)
