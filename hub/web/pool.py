"""The dashboard's own database connections, lent to one request at a time."""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from hub.storage import Storage, StorageError

# Two cores: more connections than that only queue the same work in the database.
POOL_SIZE = 2


class StoragePool:
    def __init__(self, open_storage: Callable[[], Storage], size: int = POOL_SIZE) -> None:
        self._open = open_storage
        self._idle: queue.LifoQueue[Storage] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def borrow(self) -> Iterator[Storage]:
        with self._slots:
            try:
                storage = self._idle.get_nowait()
            except queue.Empty:
                storage = self._open()
            broken = False
            try:
                yield storage
            except StorageError:
                broken = True     # the connection may be gone: not lent again
                raise
            finally:
                if broken:
                    storage.close()
                else:
                    self._idle.put(storage)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
