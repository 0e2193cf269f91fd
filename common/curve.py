"""CURVE key files, the same on hub and node.

Files use ZeroMQ's certificate format (the one ``zmq.auth.create_certificates`` writes and
``zmq.auth.load_certificate`` reads): ``NAME.key`` holds the public key and may be shared,
``NAME.key_secret`` holds both keys and is readable by its owner only. procmesh adds a ``name``
metadata entry to both, so a public key file says which node it belongs to.
"""
from __future__ import annotations

import datetime
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import zmq
import zmq.auth
from zmq.utils import z85

from common.errors import ProcmeshError

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
Z85_KEY_LENGTH = 40
PRIVATE_FOLDER_MODE = 0o700
# Names become file names in the hub's allow-list folder: no separators, no dot files, no spaces.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
NAME_RULE = "1 to 200 letters, digits, '.', '_' or '-', starting with a letter or digit"


class KeyFileError(ProcmeshError, ValueError):
    """A key file or key text that cannot be used; the message is one line and never a secret."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes                                   # Z85 text, 40 characters
    secret: bytes = field(default=b"", repr=False)  # never in a log line or a traceback


def valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def same_name(name: str, other: str) -> bool:
    """Whether two computer names are the same, ignoring ASCII case as DNS and NetBIOS do: a
    Windows PC may call itself ``PC-07`` although it was enrolled as ``pc-07``. Only ASCII letters
    fold, so no other character can pass for one of them."""
    return name == other or (name.isascii() and other.isascii() and name.lower() == other.lower())


def owns(name: str, node: str) -> bool:
    """Whether the key enrolled as ``name`` may report for node id ``node``: the name itself, or
    ``name/...`` (node ids are ``HOST/USER`` by default, so one machine key serves every user).
    The name part compares as ``same_name`` does."""
    rest = node[len(name):]
    return same_name(node[:len(name)], name) and (not rest or rest.startswith("/"))


def is_z85_key(text: str | bytes) -> bool:
    """True for the 40-character text form of a 32-byte CURVE key."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    if len(raw) != Z85_KEY_LENGTH:
        return False
    try:
        return len(z85.decode(raw)) == 32
    except (ValueError, KeyError, IndexError):
        return False


def write_key_pair(folder: Path, stem: str, metadata: Mapping[str, str], force: bool = False) -> KeyPair:
    """Create ``folder/stem.key`` and ``folder/stem.key_secret`` (mode 600) with a new key pair."""
    public_path, secret_path = folder / (stem + PUBLIC_SUFFIX), folder / (stem + SECRET_SUFFIX)
    existing = [p for p in (public_path, secret_path) if p.exists()]
    if existing and not force:
        raise KeyFileError(f"{existing[0]} already exists: keep it, or add --force to replace the key pair "
                           "(every peer that knows the old public key must then get the new one)")
    private_folder(folder)
    public, secret = zmq.curve_keypair()
    pair = KeyPair(public, secret)
    write_key_file(secret_path, pair, metadata, secret=True)
    write_key_file(public_path, pair, metadata)
    return pair


def private_folder(folder: Path, narrow_existing: bool = False) -> None:
    """Create ``folder`` (and missing parents) readable and writable by its owner only.

    mkdir's mode passes through the umask, which may take bits away (a umask of 0277 would leave
    the owner unable to write) but never adds any, so the folder is created at 700 or less and
    then set to exactly 700. A folder that exists keeps its mode unless ``narrow_existing``: a
    machine-wide folder may hold a node.toml that every login must read. On Windows the mode
    bits mean nothing and the folder inherits its parent's permissions.
    """
    try:
        created = not folder.is_dir()
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        if created or narrow_existing:
            os.chmod(folder, PRIVATE_FOLDER_MODE)
    except OSError as exc:
        raise KeyFileError(f"cannot create {folder}: {exc.strerror or exc}") from None


def write_key_file(path: Path, pair: KeyPair, metadata: Mapping[str, str], secret: bool = False) -> None:
    """Write one key file atomically; a secret file is never readable by others, not even briefly."""
    banner = "SECRET key: do not copy this file elsewhere" if secret else "public key: share it freely"
    lines = [f"#   procmesh CURVE {banner}",
             f"#   written {datetime.datetime.now().isoformat(timespec='seconds')}",
             "metadata"]
    lines += [f'    {key} = "{value}"' for key, value in metadata.items()]
    lines += ["curve", f'    public-key = "{pair.public.decode()}"']
    if secret:
        lines.append(f'    secret-key = "{pair.secret.decode()}"')
    try:
        # mkstemp creates the file with mode 600; a public key is then opened up to 644.
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        if not secret:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise KeyFileError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_key_file(path: Path, need_secret: bool = False) -> KeyPair:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or 'no such file'}") from None
    except ValueError:
        raise KeyFileError(f"{path} holds no public key: is it a procmesh or ZeroMQ key file?") from None
    if not is_z85_key(public):
        raise KeyFileError(f"{path}: the public key is not 40 characters of Z85 text")
    if need_secret and (secret is None or not is_z85_key(secret)):
        raise KeyFileError(f"{path} holds no valid secret key")
    return KeyPair(public, secret or b"")


def read_metadata(path: Path) -> dict[str, str]:
    """The ``metadata`` section of a key file as a dict (empty when there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    values: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            section = line.strip()
        elif section == "metadata" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def public_key_from(value: str) -> bytes:
    """A public key given as its 40-character text, or as the path of a key file holding it."""
    if is_z85_key(value):
        return value.encode("ascii")
    path = Path(value).expanduser()
    if not path.exists():
        raise KeyFileError(f"{value!r} is neither a 40-character public key nor an existing key file")
    return read_key_file(path).public
