"""Finding the rows a database refuses, so one bad row cannot hold back every other node's data.

The writer stores a whole batch in one transaction. If the database keeps refusing that batch (not
because it is down, but because of what is in it: a value the driver cannot encode, a constraint),
retrying it as a whole would block every node for ever. Splitting the batch in halves, and the
failing halves again, stores every acceptable row and names the refused ones in O(k log n) writes.
A database that refuses everything would cost 2n writes that way; the search gives up early instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from hub.storage import NodeRow, SessionRow, Storage, StorageError, StorageUnavailable

Row = TypeVar("Row")
# Refused rows before any accepted one that make the search give up: the fault is the database's.
REFUSED_BEFORE_GIVING_UP = 16


class _NothingAccepted(Exception):
    pass


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
    refused: list[Refused] = []

    def bisect(rows: Sequence[Row], write: Callable[[Sequence[Row]], None]) -> None:
        nonlocal stored
        if not rows:
            return
        try:
            write(rows)
        except StorageUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a driver's own error is a refusal here too
            if len(rows) > 1:
                middle = len(rows) // 2
                bisect(rows[:middle], write)
                bisect(rows[middle:], write)
                return
            reason = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
            refused.append(Refused(rows[0], reason))
            if not stored and len(refused) >= REFUSED_BEFORE_GIVING_UP:
                raise _NothingAccepted from None
            return
        stored = True

    try:
        bisect(sessions, lambda rows: storage.write(list(rows), []))
        bisect(nodes, lambda rows: storage.write([], list(rows)))
    except _NothingAccepted:
        return None
    return refused if stored else None
