"""User names replaced by a keyed hash: stable across restarts and pages, not reversible without the key."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path
from typing import Any, Sequence, TypeVar

from hub.web.keyfile import load_or_create_key

KEY_FILE = "web_pseudonyms.key"
PREFIX = "user-"


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._memo: dict[str, str] = {}

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> Pseudonymizer:
        return cls(load_or_create_key(keys_dir / KEY_FILE))

    def __call__(self, name: str) -> str:
        alias = self._memo.get(name)
        if alias is None:
            digest = hmac.new(self._key, name.encode("utf-8"), hashlib.sha256).hexdigest()
            # 40 bits: collisions among a site's few thousand users are improbable.
            alias = self._memo[name] = PREFIX + digest[:10]
        return alias


Row = TypeVar("Row")


def hide_users_in(rows: Sequence[Row], by: Sequence[str], settings: dict[str, Any]) -> Sequence[Row]:
    """Rows with a ``key`` tuple (``report``'s), the user in it pseudonymised when the settings say
    ``pseudonymize_users``; the same key file as the dashboard's, so both show the same pseudonyms."""
    if not settings["pseudonymize_users"] or "user" not in by:
        return rows
    hide = Pseudonymizer.from_keys_dir(Path(settings["keys_dir"]).expanduser())
    at = list(by).index("user")
    return [dataclasses.replace(row, key=(*row.key[:at], hide(row.key[at]), *row.key[at + 1:]))  # type: ignore
            for row in rows]
