"""Secrets the dashboard keeps in the hub's keys folder, created on first use, owner-only."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from common.errors import ProcmeshError

KEY_BYTES = 32


class SecretFileError(ProcmeshError):
    """A dashboard key file that cannot be read or created."""


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path`` (hex text), or a new random one written there with mode 600."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SecretFileError(f"cannot read the key file {path}: {reason}") from None
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: of two processes starting at once, one creates the key and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key(path)
    except OSError as exc:
        raise SecretFileError(f"cannot create the key file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key
