"""The CURVE settings and the ``keys`` command line, apart from hub/keys.py so that building the
parser, which every command does, never loads libzmq's CURVE code."""
from __future__ import annotations

import argparse
from typing import Callable

from common.settings import Option, boolean

KEYS_DIR = Option("keys_dir", "keys", "folder of the hub's key pair and of allowed/NAME.key, the "
                  "node keys admitted with --curve", metavar="DIR")
CURVE_OPTIONS = (
    Option("curve", False, "encrypt all traffic with CURVE and admit only the node keys in "
           "KEYS_DIR/allowed", boolean),
    Option("accept_any_node", False, "with --curve: admit any node key (encryption only), logging "
           "each new one", boolean),
    KEYS_DIR,
)


def add_keys_parser(commands: argparse._SubParsersAction,
                    add_settings: Callable[[argparse.ArgumentParser], None]) -> None:
    """``keys init|allow|revoke|list``; ``add_settings`` adds --config and the option flags."""
    keys = commands.add_parser("keys", help="CURVE keys: the hub's key pair and the nodes allowed",
                               description="CURVE keys: the hub's key pair and the nodes allowed")
    actions = keys.add_subparsers(dest="keys_command", metavar="{init,allow,revoke,list}", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        add_settings(sub)
        return sub

    init = action("init", "create the hub's key pair")
    init.add_argument("--force", action="store_true", help="replace an existing key pair")
    allow = action("allow", "admit node keys: public key files, or key text with --name")
    allow.add_argument("keys", nargs="+", metavar="FILE|KEY")
    allow.add_argument("--name", help="the node name the key speaks for (default: the name in the "
                                      "key file, else the file name without .key)")
    allow.add_argument("--force", action="store_true", help="replace the key of a name already allowed")
    revoke = action("revoke", "stop admitting these node names")
    revoke.add_argument("names", nargs="+", metavar="NAME")
    action("list", "show the hub's public key and the allowed node keys")
