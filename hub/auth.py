"""CURVE on the hub: its key pair, the allow-list of node keys, the ZAP handler and the sender check.

The allow-list is a folder of public key files, one per enrolled name: ``allowed/NAME.key``. The
file's name binds the key to a computer: a report sent with that key is stored only when its node
id is NAME or starts with ``NAME/`` (node ids are ``HOST/USER`` by default, so one machine key
speaks for every user of its PC), else it is dropped and counted as ``node-not-owned``; and only
when its ``host`` is NAME, else ``host-not-owned``. The computer stored is NAME as it was allowed,
never the report's free text. Names compare ignoring ASCII case (``common.curve.same_name``).

ZAP only runs when a connection is set up, so the check on every report also looks the key up in
the allow-list in force: reports from a key revoked while its connection stays open are dropped
(``key-revoked``) from the next report on.

Threads: the ZAP handler runs in pyzmq's authenticator thread with sockets of its own, a watchdog
observer reloads the folder, and the hub's socket thread checks reports. The allow-list they share
is an immutable snapshot that a reload replaces in one assignment; nobody mutates it. A folder
shared between hubs over the network changes without any event here, so the hub's tick also
compares the folder's listing with the one last loaded (``refresh``).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Protocol

import zmq
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver
from zmq.auth.thread import ThreadAuthenticator

from common.curve import (NAME_RULE, PUBLIC_SUFFIX, SECRET_SUFFIX, KeyFileError, KeyPair, owns,
                          private_folder, read_key_file, same_name, valid_name)
from common.protocol import ProtocolError, Report
from hub.addresses import peer_address
from hub.watcher import CONTENT_EVENTS, DEBOUNCE_SECONDS, stop_observer, watch_folder

log = logging.getLogger("procmesh.hub.auth")

# The same string on the sockets and in configure_curve_callback: ZAP has no wildcard domain.
ZAP_DOMAIN = "procmesh"
HUB_KEY_STEM = "hub"
ALLOWED_FOLDER = "allowed"
# A denied node retries about once a minute; one log line per key every ten minutes is enough.
DENIAL_LOG_EVERY = 600.0
# Bounds the memory a flood of made-up keys can take; forgetting only repeats a log line.
REMEMBERED_KEYS = 10_000


def hub_secret_file(keys_dir: Path) -> Path:
    return keys_dir / (HUB_KEY_STEM + SECRET_SUFFIX)


def allowed_folder(keys_dir: Path) -> Path:
    return keys_dir / ALLOWED_FOLDER


@dataclass(frozen=True)
class AllowList:
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # Z85 key -> name


def load_allow_list(folder: Path) -> tuple[AllowList, list[str]]:
    """The keys in ``folder/*.key`` and a one-line problem for each file that was skipped."""
    names: dict[str, str] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*" + PUBLIC_SUFFIX)):
        name = path.name[:-len(PUBLIC_SUFFIX)]
        if not valid_name(name):
            problems.append(f"{path}: {name!r} is not a node name ({NAME_RULE}); ignored")
            continue
        try:
            key = read_key_file(path).public.decode("ascii")
        except KeyFileError as exc:
            problems.append(f"{exc}; ignored")
            continue
        if key in names:
            problems.append(f"{path}: the same key is already allowed as {names[key]!r}; ignored")
            continue
        twin = allowed_name(names.values(), name)
        if twin is not None:
            problems.append(f"{path}: {name!r} is already allowed as {twin!r} (names are compared "
                            "ignoring case); ignored")
            continue
        names[key] = name
    return AllowList(MappingProxyType(names)), problems


def allowed_name(names: Iterable[str], wanted: str) -> str | None:
    """The name among ``names`` that is ``wanted`` up to case, as spelled when it was allowed."""
    return next((name for name in names if same_name(name, wanted)), None)


def _listing(folder: Path) -> frozenset[tuple[str, int, int]]:
    """Name, modification time and size of each key file: what a change to the folder changes."""
    try:
        with os.scandir(folder) as entries:
            return frozenset((entry.name, entry.stat().st_mtime_ns, entry.stat().st_size)
                             for entry in entries if entry.name.endswith(PUBLIC_SUFFIX))
    except OSError:
        return frozenset()


class Security(Protocol):
    """What the hub's socket thread asks of its transport security."""

    def start(self, ctx: zmq.Context) -> None: ...

    def secure(self, sock: zmq.Socket) -> None: ...

    def check_sender(self, report: Report, frame: zmq.Frame) -> Report:
        """The report as it may be stored, or ProtocolError when its sender may not send it."""
        ...

    def refresh(self) -> None:
        """Pick up credentials changed without a file-system event; called on the hub's tick."""
        ...

    def stop(self) -> None: ...


class Plaintext:
    """No encryption and no authentication: the hub as it runs without --curve."""

    def start(self, ctx: zmq.Context) -> None:
        pass

    def secure(self, sock: zmq.Socket) -> None:
        pass

    def check_sender(self, report: Report, frame: zmq.Frame) -> Report:
        return report

    def refresh(self) -> None:
        pass

    def stop(self) -> None:
        pass


class _KeyCheck:
    """ZAP's credentials provider. Runs in the authenticator's thread only."""

    def __init__(self, allowed: Callable[[], AllowList], accept_any: bool) -> None:
        self.address = ""   # of the request being answered, set by _Authenticator
        self._allowed = allowed
        self._accept_any = accept_any
        self._logged: dict[str, float] = {}

    def callback(self, _domain: str, key: bytes) -> bool:
        text = key.decode("ascii")
        if self._accept_any:
            if self._log_due(text, float("inf")):
                log.info("admitted a new node key %s from %s (accept_any_node: keys are not checked)",
                         text, self.address)
            return True
        if text in self._allowed().names:
            return True
        if self._log_due(text, DENIAL_LOG_EVERY):
            log.warning("denied a node key that is not allowed: %s from %s; to admit it, run: "
                        "procmesh-hub keys allow '%s' --name NAME", text, self.address, text)
        return False

    def _log_due(self, key: str, every: float) -> bool:
        now = time.monotonic()
        last = self._logged.get(key)
        if last is not None and now - last < every:
            return False
        if len(self._logged) >= REMEMBERED_KEYS:
            self._logged.clear()
        self._logged[key] = now
        return True


class _Authenticator(ThreadAuthenticator):
    """pyzmq's ZAP handler thread, which also tells the key check where each request comes from."""

    def __init__(self, ctx: zmq.Context, check: _KeyCheck) -> None:
        super().__init__(ctx, log=logging.getLogger("procmesh.hub.zap"))
        self._check = check

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        # Frames: version, request id, domain, peer address, routing id, mechanism, credentials.
        if len(msg) > 3:
            self._check.address = peer_address(msg[3].decode("utf-8", "replace"))
        await super().handle_zap_message(msg)


class _FolderEvents(FileSystemEventHandler):
    """Calls ``reload`` once the allow-list folder has been quiet for a moment."""

    def __init__(self, reload: Callable[[], None]) -> None:
        self._reload = reload
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Reading the files raises events too; only these can change what the folder holds.
        if event.event_type not in CONTENT_EVENTS:
            return
        with self._lock:
            self.cancel()
            self._timer = threading.Timer(DEBOUNCE_SECONDS, self._reload)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class CurveServer:
    """CURVE server sockets behind a ZAP handler that admits the keys in ``keys_dir/allowed``."""

    def __init__(self, keys_dir: Path, accept_any: bool = False, checked_every: float = 30.0) -> None:
        """``checked_every``: how often the hub calls ``refresh`` (for the log only)."""
        secret_file = hub_secret_file(keys_dir)
        if not secret_file.exists():
            raise KeyFileError(f"curve is on but the hub has no key pair ({secret_file} is missing): "
                               "run procmesh-hub keys init")
        self._pair: KeyPair = read_key_file(secret_file, need_secret=True)
        self._folder = allowed_folder(keys_dir)
        self._accept_any = accept_any
        self._checked_every = checked_every
        self._allowed = AllowList()
        self._reload_lock = threading.Lock()
        self._loaded = False
        self._listing: frozenset[tuple[str, int, int]] | None = None   # of the allow-list in force
        self._auth: _Authenticator | None = None
        self._observer: BaseObserver | None = None
        self._events = _FolderEvents(self.reload)

    def start(self, ctx: zmq.Context) -> None:
        """Start the ZAP handler, which must run before a server socket binds: without one,
        libzmq would let every CURVE client in."""
        if self._accept_any:
            log.warning("CURVE on with accept_any_node: traffic is encrypted, but any node key is "
                        "admitted and may report for any node id")
        else:
            private_folder(self._folder)
            self.reload()
            self._observer = watch_folder(self._folder, self._events,
                                          f"the allow-list is checked for changes every "
                                          f"{self._checked_every:g} s instead (a revoke takes effect then)")
        check = _KeyCheck(lambda: self._allowed, self._accept_any)
        self._auth = _Authenticator(ctx, check)
        self._auth.start()
        self._auth.configure_curve_callback(ZAP_DOMAIN, check)

    def secure(self, sock: zmq.Socket) -> None:
        sock.curve_secretkey = self._pair.secret
        sock.curve_publickey = self._pair.public
        sock.zap_domain = ZAP_DOMAIN.encode()
        sock.curve_server = True

    def check_sender(self, report: Report, frame: zmq.Frame) -> Report:
        """``report`` with its computer taken from the key that sent ``frame``; ProtocolError when
        that key may not report for ``report.node`` or for the computer ``report.host``."""
        if self._accept_any:
            return report
        key = frame.get("User-Id")   # pyzmq's ZAP handler sets the client's Z85 public key here
        name = self._allowed.names.get(key)
        if name is None:
            raise ProtocolError("key-revoked", f"report for {report.node!r} from key {key}, which is "
                                               "no longer allowed")
        if not owns(name, report.node):
            raise ProtocolError("node-not-owned", f"report for {report.node!r} from the key of "
                                                  f"{name!r}, which may only report for {name!r} "
                                                  f"and {name + '/...'!r}")
        if not same_name(report.host, name):
            raise ProtocolError("host-not-owned", f"report with host {report.host!r} from the key of "
                                                  f"{name!r}, which may only report for computer {name!r}")
        return report._replace(host=name)

    def refresh(self) -> None:
        """Reload the allow-list if its folder's listing changed since the last load, on a thread
        of its own: the listing of thousands of keys must not hold the hub's socket thread."""
        if not self._accept_any:
            threading.Thread(target=self._reload_if_changed, name="procmesh-allow-list",
                             daemon=True).start()

    def _reload_if_changed(self) -> None:
        if _listing(self._folder) != self._listing:
            self.reload()

    def reload(self) -> None:
        """Re-read the allow-list folder; log what changed and every file that was skipped."""
        with self._reload_lock:
            # Listed first: a change during the load then shows at the next refresh.
            self._listing = _listing(self._folder)
            fresh, problems = load_allow_list(self._folder)
            previous, self._allowed = self._allowed, fresh
            first, self._loaded = not self._loaded, True
        for problem in problems:
            log.warning("allow-list: %s", problem)
        if fresh.names == previous.names and not first:
            return
        before = {name: key for key, name in previous.names.items()}
        after = {name: key for key, name in fresh.names.items()}
        rekeyed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
        changes = [f"{word} {', '.join(sorted(names))}" for word, names in
                   (("added", after.keys() - before.keys()), ("removed", before.keys() - after.keys()),
                    ("new key for", rekeyed)) if names and not first]
        log.info("allow-list %s: %d node keys%s", self._folder, len(after),
                 "".join(f"; {change}" for change in changes))
        if not after:
            log.warning("the allow-list %s is empty: every node is denied until "
                        "procmesh-hub keys allow adds one", self._folder)

    def stop(self) -> None:
        self._events.cancel()
        if self._observer is not None:
            stop_observer(self._observer)
            self._observer = None
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
