"""Where and how the dashboard listens: the address rule, the socket, uvicorn in a thread or in front."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from starlette.types import ASGIApp

from common.errors import ProcmeshError

log = logging.getLogger("procmesh.web")
STOP_SECONDS = 5.0


class WebListenError(ProcmeshError):
    """A web_listen value that cannot be used, or an address that cannot be listened on."""


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False   # a host name may resolve to anything

    def url(self, tls: bool) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if tls else 'http'}://{host}:{self.port}/"


def parse_listen(text: str) -> Listen | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6, ``:PORT`` for every address); None for ``off``."""
    spec = text.strip()
    if spec.lower() in ("off", "no", "false", ""):
        return None
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise WebListenError(f"web_listen {text!r}: use HOST:PORT (e.g. 127.0.0.1:8807), [::1]:8807 or off")
    host = host.strip("[]") or "0.0.0.0"
    return Listen(host, int(port))


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound now so that a port in use is one line before anything starts."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise WebListenError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WebListenError(f"cannot listen on {listen.host}:{listen.port} for the dashboard: "
                             f"{exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def check_tls(certfile: str, keyfile: str) -> None:
    """Both or neither, and readable: the process that serves loads them again, too late for one line."""
    if bool(certfile) != bool(keyfile):
        raise WebListenError("web_certfile and web_keyfile go together: give both, or neither")
    if certfile:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise WebListenError(f"web_certfile {certfile} with web_keyfile {keyfile} cannot be used: "
                                 f"{exc.strerror or exc}") from None


def uvicorn_config(app: ASGIApp, certfile: str, keyfile: str) -> uvicorn.Config:
    return uvicorn.Config(app, ssl_certfile=certfile or None, ssl_keyfile=keyfile or None,
                          log_config=None, access_log=False, lifespan="off",
                          # X-Forwarded-Proto from a reverse proxy on this machine marks HTTPS.
                          proxy_headers=True, forwarded_allow_ips="127.0.0.1,::1")


class Stoppable(Protocol):
    """A dashboard served beside the hub, however it is served."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class BackgroundServer:
    """uvicorn in a thread of its own with its own event loop, beside the hub's threads."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="procmesh-web", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(STOP_SECONDS)
        self._sock.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException:   # noqa: BLE001 - the hub goes on without its dashboard, and says so
            log.exception("the web dashboard stopped")


def serve_in_front(config: uvicorn.Config, sock: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both in the main thread)."""
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
