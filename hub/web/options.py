"""The dashboard's settings (flags, PROCMESH_* variables and hub.toml keys like every other) and the
``web-user`` command line: what building the parser needs, without the web stack behind it."""
from __future__ import annotations

import argparse
from typing import Callable

from common.settings import Option, boolean, non_negative_seconds

ROLES = ("admin", "viewer")

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


def add_web_user_parser(commands: argparse._SubParsersAction,
                        add_settings: Callable[[argparse.ArgumentParser], None]) -> None:
    users = commands.add_parser("web-user", help="accounts of the web dashboard",
                                description="accounts of the web dashboard")
    actions = users.add_subparsers(dest="web_user_command", metavar="{add,remove,list}", required=True)
    add = actions.add_parser("add", help="add an account (the password is asked twice)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="admin sees user names; viewer sees them pseudonymised")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input (for scripts)")
    remove = actions.add_parser("remove", help="remove an account; its sessions end at their next request")
    remove.add_argument("name")
    listing = actions.add_parser("list", help="the accounts and their roles")
    for sub in (add, remove, listing):
        add_settings(sub)
