"""The node's CURVE keys: ``procmesh-node keys init``, and the keys a running node uses.

Setting ``hub_key`` (the hub's public key) is what turns encryption on; the node then needs its
own key pair, ``node.key`` and ``node.key_secret`` in ``keys_dir``. Both files name the node
(its host name unless ``--name`` says otherwise); the hub admits the key under that name, and a
key named ``pc-01`` may report for node ids ``pc-01`` and ``pc-01/...``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import zmq

from common.curve import (NAME_RULE, PUBLIC_SUFFIX, SECRET_SUFFIX, KeyFileError, KeyPair, is_z85_key,
                          public_key_from, read_key_file, read_metadata, valid_name, write_key_pair)
from common.settings import Option, path_setting, positive_seconds
from node.platform import WINDOWS, hostname

NODE_KEY_STEM = "node"


def key_or_path(text: str) -> str:
    """hub_key: the key's text as it is, or a path (checked and expanded like every path)."""
    return text if is_z85_key(text) else path_setting(text)


KEYS_DIR = Option("keys_dir", "", "folder of this node's key pair node.key and node.key_secret "
                  "(default: the user's configuration folder)", path_setting, metavar="DIR")
KEY_OPTIONS = (
    Option("hub_key", "", "the hub's public key, as text or as the path of its hub.key file; "
           "setting it turns on CURVE encryption", key_or_path, metavar="KEY|FILE"),
    KEYS_DIR,
    Option("auth_retry", 60.0, "seconds before connecting again after the hub denied this node's key",
           positive_seconds, metavar="SECONDS"),
)


@dataclass(frozen=True)
class CurveClient:
    """What a node's sockets need to talk CURVE to the hub."""

    hub_key: bytes
    pair: KeyPair
    name: str   # the name the key was made for; the hub should allow it under this name

    def secure(self, sock: zmq.Socket) -> None:
        sock.curve_serverkey = self.hub_key
        sock.curve_publickey = self.pair.public
        sock.curve_secretkey = self.pair.secret


def curve_client(hub_key: str, keys_dir: Path) -> CurveClient | None:
    """The CURVE settings for the node's sockets, or None when ``hub_key`` is not set."""
    if not hub_key:
        return None
    server_key = public_key_from(hub_key)
    secret_file = keys_dir / (NODE_KEY_STEM + SECRET_SUFFIX)
    if not secret_file.exists():
        raise KeyFileError(f"hub_key is set, so this node encrypts, but it has no key pair "
                           f"({secret_file} is missing): run procmesh-node keys init")
    pair = read_key_file(secret_file, need_secret=True)
    return CurveClient(server_key, pair, read_metadata(secret_file).get("name", ""))


def build_keys_parser(add_settings: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="procmesh-node keys", description="this node's CURVE keys")
    actions = parser.add_subparsers(dest="keys_command", metavar="{init}", required=True)
    init = actions.add_parser("init", help="create this node's key pair",
                              description="create this node's key pair")
    add_settings(init)
    init.add_argument("--name", help="the node name the key speaks for (default: this computer's "
                                     "host name)")
    init.add_argument("--force", action="store_true", help="replace an existing key pair")
    return parser


def secret_file_access(windows: bool) -> str:
    """Who can read a new secret key file, said truthfully: Windows ignores the file mode, and the
    file takes its folder's permissions (in ProgramData every local user may read)."""
    if windows:
        return ("secret; it has its folder's permissions: in ProgramData every local user can read "
                "it unless the folder is restricted, see docs/deploy.md")
    return "secret, readable by you only"


def init_node_keys(keys_dir: Path, name: str | None, force: bool, windows: bool = WINDOWS) -> str:
    name = name or hostname()
    if not valid_name(name):
        raise KeyFileError(f"{name!r} is not a node name ({NAME_RULE}): choose one with --name")
    pair = write_key_pair(keys_dir, NODE_KEY_STEM, {"name": name}, force)
    public_file = keys_dir / (NODE_KEY_STEM + PUBLIC_SUFFIX)
    return (f"node key pair written: {public_file} (public) and "
            f"{keys_dir / (NODE_KEY_STEM + SECRET_SUFFIX)} ({secret_file_access(windows)})\n"
            f"node name {name}: the key may report for node ids {name} and {name}/...\n"
            f"public key: {pair.public.decode()}\n"
            f"on the hub, allow it with: procmesh-hub keys allow '{pair.public.decode()}' --name {name}\n"
            f"(or copy {public_file} to the hub and run: procmesh-hub keys allow FILE)")
