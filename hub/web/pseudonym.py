"""User names replaced by a keyed hash: stable across restarts and pages, not reversible without the key."""
from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

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
