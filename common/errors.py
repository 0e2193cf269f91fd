"""The base of every error procmesh raises on purpose, so a command line can tell them from bugs.

Each one's ``str()`` is a single line a person can act on, never a password or a secret key. The
command-line entry points print it as ``procmesh-hub: error: ...`` (or ``procmesh-node: ...``)
and exit 1; anything else that escapes is a bug and keeps its traceback.

    ProcmeshError
    ├── SettingsError        a flag, environment variable or TOML key (common.settings)
    ├── WatchListError       a watch-list line ("line N: why") (common.watchlist)
    ├── KeyFileError         a CURVE key file or key text (common.curve)
    ├── ProtocolError        a frame that is not a valid message; the hub drops and counts it
    │                        (common.protocol)
    ├── StorageError         the database refused or a URL is wrong (hub.storage)
    │   └── StorageUnavailable   the database cannot be reached now: retrying may succeed
    ├── AnswerError          a question that cannot be answered as asked: --by, --until before
    │                        --since, a labs.txt or licenses.txt line, a time zone (hub.answers)
    ├── BindError            an endpoint the hub cannot listen on (hub.server)
    ├── WebListenError       the dashboard's address, port or certificate (hub.web.serve)
    ├── AccountError         a web-user command (hub.web.accounts)
    ├── SecretFileError      a dashboard key file (hub.web.keyfile)
    └── NoConfigError        no watch list from any hub in time, for ``--once`` (node.agent)

``OSError`` (a folder that cannot be created, a file that cannot be read) is not in the tree: the
entry points turn it into one line with ``os_error_line``.
"""
from __future__ import annotations


class ProcmeshError(Exception):
    """An error a person can cause or fix; str() is one line."""


def os_error_line(exc: OSError) -> str:
    """``OSError`` as one line: what failed and on which file, without a traceback."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    return f"{reason}: {' -> '.join(names)}" if names else reason
