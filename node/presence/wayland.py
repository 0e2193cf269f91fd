"""Wayland desktops: the desktop's own idle monitor over D-Bus (jeepney), where it offers one.

A Wayland compositor tells other programs neither the idle time nor the focused window by itself.
Some desktops answer over the session bus:

- GNOME: ``org.gnome.Mutter.IdleMonitor.GetIdletime`` (milliseconds), and the lock from
  ``org.gnome.ScreenSaver.GetActive``;
- desktops implementing ``org.freedesktop.ScreenSaver.GetSessionIdleTime`` (seconds, as that
  interface defines it), and the lock from its ``GetActive``. KDE Plasma refuses that call under
  Wayland, so a Plasma Wayland session is not measured.

None of them names the focused window, so foreground time stays unknown on Wayland. logind's
IdleHint is not used: it says only that the desktop's own idle delay has passed, not when the last
input was, so it cannot give time the user was surely active.
"""
from __future__ import annotations

from dataclasses import dataclass

from jeepney import DBusAddress, DBusErrorResponse, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import unwrap_msg

from node.presence.probe import ProbeUnavailable, Reading, Readings

# A desktop service that hangs must not hold up the scan for long.
CALL_TIMEOUT = 1.0


@dataclass(frozen=True)
class Method:
    """A D-Bus method without arguments, and how to read its answer."""

    name: str
    address: DBusAddress
    member: str
    seconds_per_unit: float = 1.0

    def call(self, bus: DBusConnection) -> object:
        reply = bus.send_and_get_reply(new_method_call(self.address, self.member), timeout=CALL_TIMEOUT)
        return unwrap_msg(reply)[0]


def _screensaver(bus_name: str, path: str) -> DBusAddress:
    return DBusAddress(path, bus_name=bus_name, interface=bus_name)


MUTTER_IDLE = DBusAddress("/org/gnome/Mutter/IdleMonitor/Core", bus_name="org.gnome.Mutter.IdleMonitor",
                          interface="org.gnome.Mutter.IdleMonitor")
FREEDESKTOP = _screensaver("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver")
GNOME_SCREENSAVER = _screensaver("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver")

IDLE_METHODS = (
    Method("GNOME's org.gnome.Mutter.IdleMonitor", MUTTER_IDLE, "GetIdletime", 0.001),
    Method("org.freedesktop.ScreenSaver", FREEDESKTOP, "GetSessionIdleTime", 1.0),
)
LOCK_METHODS = (
    Method("org.gnome.ScreenSaver", GNOME_SCREENSAVER, "GetActive"),
    Method("org.freedesktop.ScreenSaver", FREEDESKTOP, "GetActive"),
)


def dbus_reading(idle_units: int, seconds_per_unit: float, locked: bool) -> Reading:
    """A Reading from an idle monitor's answer; Wayland desktops do not name the focused window."""
    return Reading(idle_units * seconds_per_unit, locked, focus_measured=False)


class WaylandProbe:
    def __init__(self, bus: DBusConnection | None = None) -> None:
        try:
            self._bus = bus or open_dbus_connection("SESSION")
        except (OSError, KeyError, ValueError) as exc:
            raise ProbeUnavailable(f"cannot reach the D-Bus session bus: {exc}") from None
        self._idle = self._first_answering(IDLE_METHODS)
        if self._idle is None:
            self._bus.close()
            raise ProbeUnavailable("this Wayland desktop offers no idle time over D-Bus (GNOME's "
                                   "Mutter IdleMonitor or org.freedesktop.ScreenSaver)")
        self._lock = self._first_answering(LOCK_METHODS)
        self.description = (f"Wayland: idle time from {self._idle.name}, the lock from "
                            f"{self._lock.name if self._lock else 'nothing (not offered)'}; "
                            "the focused window is not known")

    def read(self) -> Readings:
        try:
            idle = self._idle.call(self._bus)
            locked = bool(self._lock.call(self._bus)) if self._lock is not None else False
        except (DBusErrorResponse, TimeoutError) as exc:
            raise ProbeUnavailable(f"{self._idle.name} stopped answering: {exc}") from None
        return {None: dbus_reading(int(idle), self._idle.seconds_per_unit, locked)}

    def close(self) -> None:
        self._bus.close()

    def _first_answering(self, methods: tuple[Method, ...]) -> Method | None:
        for method in methods:
            try:
                method.call(self._bus)
            except (DBusErrorResponse, TimeoutError):
                continue
            return method
        return None
