"""Which probe a desktop allows, opened at scan time, reopened when it went away.

A node that cannot measure says once why, reports its sessions without active and foreground
seconds (stored as NULL, never as a made-up 0), and tries again now and then: a node started before
the desktop is ready (an X server still starting at login) gets its probe a little later.
"""
from __future__ import annotations

import logging
import os
import platform
import time
from typing import Callable, Mapping

from node.presence.probe import Probe, ProbeUnavailable, Readings

log = logging.getLogger("procmesh.node")

RETRY_SECONDS = 60.0

Opener = Callable[[], Probe]


def probe_opener(scope: str, system: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Opener:
    """How to open the probe for this system and session; the opener raises ProbeUnavailable."""
    system = platform.system() if system is None else system
    environ = os.environ if environ is None else environ
    if system == "Windows":
        if scope == "all":
            from node.presence.windows import WtsProbe
            return WtsProbe
        from node.presence.windows import WindowsProbe
        return WindowsProbe
    if scope == "all":
        return _cannot(f"a node with scope = \"all\" on {system} cannot tell each user's presence")
    if system == "Darwin":
        from node.presence.macos import MacProbe
        return MacProbe
    if environ.get("WAYLAND_DISPLAY"):
        # XWayland's idle time sees only input to X11 windows, so a Wayland session is asked over
        # D-Bus, even when DISPLAY is set too.
        from node.presence.wayland import WaylandProbe
        return WaylandProbe
    display = environ.get("DISPLAY")
    if display:
        def open_x11() -> Probe:
            try:
                from node.presence.x11 import X11Probe
            except ImportError as exc:
                raise ProbeUnavailable(f"python-xlib is not installed ({exc})") from None
            return X11Probe(display)
        return open_x11
    return _cannot("no desktop session: neither DISPLAY nor WAYLAND_DISPLAY is set")


def _cannot(why: str) -> Opener:
    def opener() -> Probe:
        raise ProbeUnavailable(why)
    return opener


class PresenceSource:
    """Readings at each scan from the probe ``opener`` opens; empty while there is none."""

    def __init__(self, opener: Opener, retry_seconds: float = RETRY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._opener = opener
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._probe: Probe | None = None
        self._retry_at = float("-inf")
        self._said: str | None = None        # the last problem logged, until a reading succeeds
        self._described: str | None = None   # the last probe logged as measuring

    def read(self) -> Readings:
        probe = self._probe or self._open()
        if probe is None:
            return {}
        try:
            readings = probe.read()
            self._said = None
            return readings
        except (ProbeUnavailable, OSError) as exc:
            self._lost(str(exc))
        except Exception as exc:  # noqa: BLE001 - a probe's surprise must not stop the node's scans
            log.debug("the presence probe failed", exc_info=True)
            self._lost(f"the probe failed unexpectedly: {type(exc).__name__}: {exc}")
        return {}

    def _lost(self, why: str) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail too; it is gone
            self._probe = None
        self._cannot(why)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def _open(self) -> Probe | None:
        if self._clock() < self._retry_at:
            return None
        try:
            self._probe = self._opener()
        except (ProbeUnavailable, OSError) as exc:
            self._cannot(str(exc))
            return None
        if self._probe.description != self._described:
            log.info("measuring active and foreground time: %s", self._probe.description)
            self._described = self._probe.description
        return self._probe

    def _cannot(self, why: str) -> None:
        self._retry_at = self._clock() + self._retry_seconds
        if why != self._said:
            log.warning("active and foreground time are not measured (stored as unknown): %s", why)
            self._said = why
