"""Finding the rows a database refuses, so one bad row cannot hold back every other node's data.

The writer stores a whole batch in one transaction. If the database keeps refusing that batch (not
because it is down, but because of what is in it: a value the driver cannot encode, a constraint),
retrying it as a whole would block every node for ever. Splitting the batch in halves, and the
failing halves again, stores every acceptable row and names the refused ones in O(k log n) writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from hub.storage import NodeRow, SessionRow, Storage, StorageError, StorageUnavailable

Row = TypeVar("Row")


@dataclass(frozen=True)
class Refused:
    row: SessionRow | NodeRow
    reason: str


def store_acceptable_rows(storage: Storage, sessions: Sequence[SessionRow],
                          nodes: Sequence[NodeRow]) -> list[Refused] | None:
    """Store every row the database accepts, each half in its own transaction; return the refused
    rows, or None when it accepted none at all: then the fault is the database's (permissions, a
    full disk), not the data's, and nothing may be thrown away.

    StorageUnavailable passes through: an outage during the search is an outage."""
    stored = False

    def bisect(rows: Sequence[Row], write: Callable[[Sequence[Row]], None]) -> list[Refused]:
        nonlocal stored
        if not rows:
            return []
        try:
            write(rows)
        except StorageUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a driver's own error is a refusal here too
            if len(rows) == 1:
                reason = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
                return [Refused(rows[0], reason)]
            middle = len(rows) // 2
            return bisect(rows[:middle], write) + bisect(rows[middle:], write)
        stored = True
        return []

    refused = bisect(sessions, lambda rows: storage.write(list(rows), []))
    refused += bisect(nodes, lambda rows: storage.write([], list(rows)))
    return refused if stored else None
