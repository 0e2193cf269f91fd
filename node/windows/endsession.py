"""A hidden top-level window that hears the Windows session end (logoff, shutdown, restart).
Windows only (ctypes: user32, kernel32).

A program started by pythonw or procmesh-nodew has no console, so it gets no console control
events: Windows tells it that the session ends only by sending WM_QUERYENDSESSION and then
WM_ENDSESSION to its top-level windows (message-only windows get neither), and may end the
process as soon as it has answered WM_ENDSESSION. A console program that loads user32 (pyzmq and
psutil do) is treated the same way. So the node owns one such window, never shown, in a thread
that does nothing but pump its messages; what to answer is node.stopping.SessionEndHandler's
business, which raises the agent's stop flag and waits for the final report.
"""
from __future__ import annotations

import ctypes
import logging
import threading
from ctypes import wintypes

from node.stopping import SessionEndHandler

log = logging.getLogger("procmesh.node")

WM_QUERYENDSESSION = 0x0011
WM_ENDSESSION = 0x0016
CLASS_NAME = "procmesh-node-session-end"
# Shown by Windows beside the node while the final report goes out.
BLOCK_REASON = "procmesh is sending its last usage report"

LRESULT = wintypes.LPARAM
WNDPROC = ctypes.WINFUNCTYPE(LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)


class WNDCLASSW(ctypes.Structure):
    _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", WNDPROC), ("cbClsExtra", ctypes.c_int),
                ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE),
                ("hIcon", wintypes.HICON), ("hCursor", wintypes.HANDLE),
                ("hbrBackground", wintypes.HBRUSH), ("lpszMenuName", wintypes.LPCWSTR),
                ("lpszClassName", wintypes.LPCWSTR)]


user32 = ctypes.WinDLL("user32", use_last_error=True)
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.GetModuleHandleW.argtypes = [wintypes.LPCWSTR]
kernel32.GetModuleHandleW.restype = wintypes.HMODULE
user32.RegisterClassW.argtypes = [ctypes.POINTER(WNDCLASSW)]
user32.RegisterClassW.restype = wintypes.ATOM
user32.CreateWindowExW.argtypes = [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   wintypes.HWND, wintypes.HMENU, wintypes.HINSTANCE, wintypes.LPVOID]
user32.CreateWindowExW.restype = wintypes.HWND
user32.DefWindowProcW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
user32.DefWindowProcW.restype = LRESULT
user32.GetMessageW.argtypes = [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT]
user32.GetMessageW.restype = wintypes.BOOL
user32.TranslateMessage.argtypes = [ctypes.POINTER(wintypes.MSG)]
user32.TranslateMessage.restype = wintypes.BOOL
user32.DispatchMessageW.argtypes = [ctypes.POINTER(wintypes.MSG)]
user32.DispatchMessageW.restype = LRESULT
user32.ShutdownBlockReasonCreate.argtypes = [wintypes.HWND, wintypes.LPCWSTR]
user32.ShutdownBlockReasonCreate.restype = wintypes.BOOL
user32.ShutdownBlockReasonDestroy.argtypes = [wintypes.HWND]
user32.ShutdownBlockReasonDestroy.restype = wintypes.BOOL


def watch_session_end(handler: SessionEndHandler) -> threading.Thread:
    """Start the window's thread. It is a daemon: the node's own end ends it."""
    thread = threading.Thread(target=_pump, args=(handler,), name="procmesh-session-end", daemon=True)
    thread.start()
    return thread


def _pump(handler: SessionEndHandler) -> None:
    procedure = WNDPROC(lambda hwnd, message, wparam, lparam:
                        _on_message(handler, hwnd, message, wparam, lparam))
    window_class = WNDCLASSW(lpfnWndProc=procedure, hInstance=kernel32.GetModuleHandleW(None),
                             lpszClassName=CLASS_NAME)
    if not user32.RegisterClassW(ctypes.byref(window_class)):
        log.error("cannot watch for the end of the Windows session (RegisterClass: error %d): a "
                  "logoff ends the node without its final report", ctypes.get_last_error())
        return
    # Not WS_VISIBLE and no parent: a top-level window nobody sees, which is what gets the messages.
    hwnd = user32.CreateWindowExW(0, CLASS_NAME, "procmesh node", 0, 0, 0, 0, 0, None, None,
                                  window_class.hInstance, None)
    if not hwnd:
        log.error("cannot watch for the end of the Windows session (CreateWindowEx: error %d): a "
                  "logoff ends the node without its final report", ctypes.get_last_error())
        return
    message = wintypes.MSG()
    # GetMessage returns 0 for WM_QUIT and -1 on failure; both end the thread.
    while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
        user32.TranslateMessage(ctypes.byref(message))
        user32.DispatchMessageW(ctypes.byref(message))
    # `procedure` must outlive the window: keep it referenced until the loop ends.
    del procedure


def _on_message(handler: SessionEndHandler, hwnd: int, message: int, wparam: int, lparam: int) -> int:
    try:
        if message == WM_QUERYENDSESSION:
            return 1 if handler.query_end_session() else 0
        if message == WM_ENDSESSION:
            if wparam:
                user32.ShutdownBlockReasonCreate(hwnd, BLOCK_REASON)
            try:
                handler.end_session(bool(wparam))
            finally:
                if wparam:
                    user32.ShutdownBlockReasonDestroy(hwnd)
            return 0
    except Exception:   # an exception cannot cross into Windows: log it and answer as if handled
        log.exception("error while answering the end of the Windows session")
        return 1 if message == WM_QUERYENDSESSION else 0
    return user32.DefWindowProcW(hwnd, message, wparam, lparam)
