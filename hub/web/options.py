"""The dashboard's settings: flags, PROCMESH_* variables and hub.toml keys like every other."""
from __future__ import annotations

from common.settings import Option, boolean, non_negative_seconds

WEB_LISTEN = Option("web_listen", "127.0.0.1:8807", "where the web dashboard listens, HOST:PORT, or off; "
                    "an address other than loopback needs accounts (web-user add)", metavar="ADDRESS")
WEB_OPTIONS = (
    WEB_LISTEN,
    Option("web_certfile", "", "serve the dashboard over HTTPS with this certificate (PEM)", metavar="FILE"),
    Option("web_keyfile", "", "the private key of web_certfile (PEM)", metavar="FILE"),
    Option("web_cache_seconds", 60.0, "how long the Usage, When, Peaks and Unused pages show one "
           "answer to everyone before asking the database again (at least ten times as long as it "
           "took); 0: every time", non_negative_seconds, metavar="SECONDS"),
    Option("web_process", True, "serve the dashboard beside the hub from a child process at a lower "
           "priority, so page loads never hold the hub's interpreter; false: from a thread of the hub",
           boolean),
    Option("pseudonymize_users", False, "show every user name as a keyed hash, to admins and in report "
           "output too", boolean),
)
