"""Desktops under X11 (python-xlib): idle time and screen-saver state from the MIT-SCREEN-SAVER
extension, the focused window from the window manager's ``_NET_ACTIVE_WINDOW``, and its process
from the window's ``_NET_WM_PID`` or, for a window without one, from the X-Resource extension.

Each read is three or four round trips to the X server on a connection kept open between scans;
nothing is read between scans, and no events are asked for.
"""
from __future__ import annotations

from Xlib import X
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.ext import res, screensaver

from node.presence.probe import ProbeUnavailable, Reading, Readings


def x11_reading(idle_ms: int, saver_state: int, focus_measured: bool, pid: int | None) -> Reading:
    """A Reading from what the X server answered: the screen saver on or cycling is a blanked or
    locked screen (screen lockers of X11 desktops run it)."""
    return Reading(idle_ms / 1000.0, saver_state != screensaver.StateOff, focus_measured, pid)


class X11Probe:
    def __init__(self, name: str) -> None:
        self._name = name
        try:
            self._display = xdisplay.Display(name)
        except (xerror.DisplayError, xerror.DisplayNameError, xerror.ConnectionClosedError,
                OSError) as exc:
            raise ProbeUnavailable(f"cannot open the X display {name!r}: {exc}") from None
        if not self._display.has_extension(screensaver.extname):
            self._display.close()
            raise ProbeUnavailable(f"the X server of display {name!r} has no {screensaver.extname} "
                                   "extension, which tells the idle time")
        self._root = self._display.screen().root
        self._active_window = self._display.intern_atom("_NET_ACTIVE_WINDOW")
        self._wm_pid = self._display.intern_atom("_NET_WM_PID")
        self._xres = self._display.has_extension(res.extname)
        self.description = (f"X11 display {name}: idle time from {screensaver.extname}, the focused "
                            "window from the window manager's _NET_ACTIVE_WINDOW")

    def read(self) -> Readings:
        try:
            info = self._root.screensaver_query_info()
            focus_measured, pid = self._focus()
        except (xerror.ConnectionClosedError, OSError) as exc:
            raise ProbeUnavailable(f"lost the X display {self._name!r}: {exc}") from None
        return {None: x11_reading(info.idle, info.state, focus_measured, pid)}

    def close(self) -> None:
        try:
            self._display.close()
        except (xerror.ConnectionClosedError, OSError):
            pass

    def _focus(self) -> tuple[bool, int | None]:
        prop = self._root.get_full_property(self._active_window, X.AnyPropertyType)
        if prop is None or not len(prop.value):
            # No window manager that follows EWMH: which window has the focus is not known.
            return False, None
        window = int(prop.value[0])
        return True, self._pid_of(window) if window else None

    def _pid_of(self, window: int) -> int | None:
        try:
            prop = self._display.create_resource_object("window", window).get_full_property(
                self._wm_pid, X.AnyPropertyType)
            if prop is not None and len(prop.value):
                return int(prop.value[0])
            if self._xres:
                # The server knows the process of a local client, whatever the window claims.
                reply = self._display.res_query_client_ids(
                    [{"client": window, "mask": res.LocalClientPIDMask}])
                for client in reply.ids:
                    if client.value:
                        return int(client.value[0])
        except xerror.XError:
            # The window closed between two requests: the focus belongs to nobody we know.
            pass
        return None
