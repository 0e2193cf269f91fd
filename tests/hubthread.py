"""A hub built in-process with a tick of the test's choosing (``Hub(tick_seconds=...)``), which the
command line does not offer: in a thread of the test (``hub_thread``), or as a process of its own
that tests/sandbox.py can wrap:

    python -m tests.hubthread --tick SECONDS --watch FILE --db URL --config-endpoint EP
                              --report-endpoint EP [--curve KEYS_DIR]
"""
from __future__ import annotations

import argparse
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import zmq

from common.logs import setup_logging
from common.protocol import CONFIG_TOPIC, Config, decode_hub_frame
from common.watchlist import load_watchlist
from hub.auth import CurveServer
from hub.server import Hub, HubOptions
from hub.storage import open_storage
from tests.processes import free_port

INTERVAL, GRACE = 0.5, 2.0


def build_hub(watch: Path, db_url: str, config_endpoint: str, report_endpoint: str, tick: float,
              curve_keys: Path | None = None) -> Hub:
    storage = open_storage(db_url)
    storage.ensure_schema()
    options = HubOptions(config_endpoint, report_endpoint, INTERVAL, GRACE, watch)
    security = CurveServer(curve_keys, checked_every=tick) if curve_keys is not None else None
    return Hub(options, storage, load_watchlist(watch), security, tick_seconds=tick)


@contextmanager
def hub_thread(watch: Path, db_url: str, tick: float) -> Iterator[str]:
    """A plaintext hub on free loopback ports, serving in a thread; yields its config endpoint."""
    config_endpoint = f"tcp://127.0.0.1:{free_port()}"
    hub = build_hub(watch, db_url, config_endpoint, f"tcp://127.0.0.1:{free_port()}", tick)
    thread = threading.Thread(target=hub.run, name="test-hub", daemon=True)
    thread.start()
    try:
        yield config_endpoint
    finally:
        hub.request_stop()
        thread.join(15)


class ConfigListener:
    """Subscribes to a hub's config broadcasts as a node does, without a node."""

    def __init__(self, endpoint: str) -> None:
        self._ctx = zmq.Context()
        self._sub = self._ctx.socket(zmq.SUB)
        self._sub.linger = 0
        self._sub.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
        self._sub.connect(endpoint)
        self.configs: list[Config] = []

    def labels(self) -> list[str]:
        """The labels of the latest config received so far."""
        while self._sub.poll(0):
            message = decode_hub_frame(self._sub.recv())
            if isinstance(message, Config):
                self.configs.append(message)
        return [entry.label for entry in self.configs[-1].watch] if self.configs else []

    def close(self) -> None:
        self._sub.close()
        self._ctx.term()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hubthread")
    for flag in ("--watch", "--db", "--config-endpoint", "--report-endpoint"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--tick", type=float, required=True)
    parser.add_argument("--curve", type=Path, metavar="KEYS_DIR")
    args = parser.parse_args(argv)
    setup_logging("DEBUG", "")
    hub = build_hub(Path(args.watch), args.db, args.config_endpoint, args.report_endpoint, args.tick,
                    args.curve)
    hub.install_signal_handlers()
    return 0 if hub.run() else 1


if __name__ == "__main__":
    sys.exit(main())
