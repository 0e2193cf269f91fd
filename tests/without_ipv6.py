"""Run a program as on a system without IPv6: ``python -m tests.without_ipv6 MODULE ARGS...``.

A seccomp filter (libseccomp, through ctypes) makes every ``socket(AF_INET6, ...)`` of this process
and its threads fail with EAFNOSUPPORT, which is what a kernel without IPv6 answers (Linux booted
with ipv6.disable=1, or built without it). Then MODULE runs as ``python -m MODULE ARGS...`` would.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import runpy
import socket
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000
SCMP_CMP_EQ = 4
LIBRARY = ctypes.util.find_library("seccomp")


class _ArgumentCheck(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def forbid_ipv6_sockets() -> None:
    if LIBRARY is None:
        raise SystemExit("tests.without_ipv6 needs libseccomp")
    lib = ctypes.CDLL(LIBRARY)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgumentCheck)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    filter_ = lib.seccomp_init(SCMP_ACT_ALLOW)
    family_is_ipv6 = _ArgumentCheck(0, SCMP_CMP_EQ, socket.AF_INET6, 0)
    if (not filter_
            or lib.seccomp_rule_add_array(filter_, SCMP_ACT_ERRNO | errno.EAFNOSUPPORT,
                                          lib.seccomp_syscall_resolve_name(b"socket"), 1,
                                          ctypes.byref(family_is_ipv6)) != 0
            or lib.seccomp_load(filter_) != 0):
        raise SystemExit("tests.without_ipv6: could not install the seccomp filter")
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError as exc:
        if exc.errno == errno.EAFNOSUPPORT:
            print("this process cannot create IPv6 sockets", flush=True)
            return
    raise SystemExit("tests.without_ipv6: IPv6 sockets still work")


if __name__ == "__main__":
    forbid_ipv6_sockets()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
