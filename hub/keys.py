"""``procmesh-hub keys``: the hub's CURVE key pair and the allow-list of node keys.

Layout under ``keys_dir``: ``hub.key`` (public, give it to the nodes), ``hub.key_secret`` (owner
only) and ``allowed/NAME.key``, one public key per enrolled node name. Both folders are the
owner's only: whoever may write ``allowed/`` decides which computers get in. A running hub
notices changes to ``allowed/`` by itself (see hub/auth.py). Names compare ignoring case, as
computer names do, so ``PC-07`` and ``pc-07`` are one name.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from common.curve import (NAME_RULE, PUBLIC_SUFFIX, SECRET_SUFFIX, KeyFileError, KeyPair, is_z85_key,
                          private_folder, read_key_file, read_metadata, same_name, valid_name,
                          write_key_file, write_key_pair)
from hub.auth import HUB_KEY_STEM, allowed_folder, allowed_name, hub_secret_file, load_allow_list
from hub.tables import render_table

def cmd_keys(parsed: argparse.Namespace, settings: dict) -> int:
    keys_dir = Path(settings["keys_dir"]).expanduser()
    if parsed.keys_command == "init":
        print(init_hub_keys(keys_dir, parsed.force))
    elif parsed.keys_command == "allow":
        print(allow(keys_dir, parsed.keys, parsed.name, parsed.force))
    elif parsed.keys_command == "revoke":
        print(revoke(keys_dir, parsed.names))
    else:
        print(list_keys(keys_dir))
    return 0


def init_hub_keys(keys_dir: Path, force: bool) -> str:
    pair = write_key_pair(keys_dir, HUB_KEY_STEM, {"name": HUB_KEY_STEM}, force)
    # Only the hub's own keys live here, so a folder that exists is narrowed too: with a umask of
    # 002, the default for users on Debian and Ubuntu, allowed/ would be writable by a whole group.
    for folder in (keys_dir, allowed_folder(keys_dir)):
        private_folder(folder, narrow_existing=True)
    return (f"hub key pair written: {keys_dir / (HUB_KEY_STEM + PUBLIC_SUFFIX)} (public) and "
            f"{hub_secret_file(keys_dir)} (secret, readable by you only)\n"
            f"hub public key: {pair.public.decode()}\n"
            f"give every node this key as hub_key, allow each node's key with "
            f"procmesh-hub keys allow, and run the hub with --curve")


def allow(keys_dir: Path, arguments: Sequence[str], name: str | None = None, force: bool = False) -> str:
    if name is not None and len(arguments) > 1:
        raise KeyFileError("--name names a single key: give one FILE or KEY with it")
    folder = allowed_folder(keys_dir)
    private_folder(keys_dir)
    private_folder(folder)
    current, _ = load_allow_list(folder)
    names = dict(current.names)
    done = []
    for argument in arguments:
        key, chosen = _key_and_name(argument, name)
        if not valid_name(chosen):
            raise KeyFileError(f"{chosen!r} is not a node name ({NAME_RULE}): choose one with --name")
        if key in names and same_name(names[key], chosen):
            done.append(f"{names[key]} was already allowed")
            continue
        if key in names:
            raise KeyFileError(f"this key is already allowed as {names[key]!r}: revoke that name first")
        # A name allowed in another case keeps its spelling: it is the computer name stored.
        chosen = allowed_name(names.values(), chosen) or chosen
        target = folder / (chosen + PUBLIC_SUFFIX)
        if target.exists() and not force:
            raise KeyFileError(f"{chosen} is already allowed with another key: revoke it first, or add "
                               "--force to replace it")
        write_key_file(target, KeyPair(key.encode("ascii")), {"name": chosen})
        names = {k: n for k, n in names.items() if n != chosen}
        names[key] = chosen
        done.append(f"allowed {chosen}: {key}")
    return "\n".join(done)


def _key_and_name(argument: str, name: str | None) -> tuple[str, str]:
    """The public key an argument holds and the name to allow it as."""
    path = Path(argument).expanduser()
    if is_z85_key(argument) and not path.exists():
        if name is None:
            raise KeyFileError("a key given as text needs --name NAME (the node name it speaks for)")
        return argument, name
    if path.name.endswith(SECRET_SUFFIX):
        raise KeyFileError(f"{path} is a secret key file: give the public {PUBLIC_SUFFIX} file instead, "
                           "and delete this copy of the secret")
    if not path.exists():
        raise KeyFileError(f"{argument!r} is neither a 40-character public key nor an existing key file")
    key = read_key_file(path).public.decode("ascii")
    stem = path.name[:-len(PUBLIC_SUFFIX)] if path.name.endswith(PUBLIC_SUFFIX) else path.stem
    return key, name or read_metadata(path).get("name") or stem


def revoke(keys_dir: Path, names: Sequence[str]) -> str:
    folder = allowed_folder(keys_dir)
    files = sorted(path.name[:-len(PUBLIC_SUFFIX)] for path in folder.glob("*" + PUBLIC_SUFFIX))
    found = []
    for name in names:
        # A name is a file name: refusing anything else keeps "../x" from leaving the folder.
        if not valid_name(name):
            raise KeyFileError(f"{name!r} is not a node name ({NAME_RULE})")
        spelled = allowed_name(files, name)
        if spelled is None:
            raise KeyFileError(f"{name!r} is not allowed (no {folder / (name + PUBLIC_SUFFIX)}); "
                               "procmesh-hub keys list shows who is")
        found.append(spelled)
    for name in found:
        _remove(folder, name)
    return "\n".join(f"revoked {name}: a running hub drops its reports from now on" for name in found)


def _remove(folder: Path, name: str) -> None:
    path = folder / (name + PUBLIC_SUFFIX)
    try:
        path.unlink()
    except OSError as exc:
        raise KeyFileError(f"cannot revoke {name}: cannot delete {path}: {exc.strerror or exc}") from None


def list_keys(keys_dir: Path) -> str:
    public = keys_dir / (HUB_KEY_STEM + PUBLIC_SUFFIX)
    if public.exists():
        lines = [f"hub public key (hub_key for the nodes): {read_key_file(public).public.decode()}"]
    else:
        lines = [f"no hub key pair in {keys_dir}: run procmesh-hub keys init"]
    folder = allowed_folder(keys_dir)
    allowed, problems = load_allow_list(folder)
    lines.append(f"allowed node keys in {folder}: {len(allowed.names)}")
    rows = sorted([name, key] for key, name in allowed.names.items())
    if rows:
        lines.append(render_table(["name", "public key"], rows))
    lines += [f"skipped: {problem}" for problem in problems]
    return "\n".join(lines)
