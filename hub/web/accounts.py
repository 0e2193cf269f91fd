"""Dashboard accounts in table ``web_users``: a name, a role and an argon2 hash of the password."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.errors import ProcmeshError
from hub.storage import Storage
from hub.web.options import ROLES

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8

# Written with "?" and given the backend's placeholder by Accounts._sql.
INSERT = "INSERT INTO web_users (name, role, passwordHash, created) VALUES (?, ?, ?, ?)"
DELETE = "DELETE FROM web_users WHERE name = ?"
SELECT_ALL = "SELECT name, role, created FROM web_users ORDER BY name"
SELECT_ANY = "SELECT 1 FROM web_users LIMIT 1"
SELECT_ONE = "SELECT name, role, created FROM web_users WHERE name = ?"
SELECT_HASH = "SELECT passwordHash FROM web_users WHERE name = ?"


class AccountError(ProcmeshError):
    """An account command a person got wrong (unknown name, bad role, short password)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created: float


class Accounts:
    """Reads and changes ``web_users`` through a storage the caller owns."""

    def __init__(self, storage: Storage, hasher: PasswordHasher | None = None) -> None:
        self._storage = storage
        self._hasher = hasher or PasswordHasher()
        self._mark = storage.dialect.placeholder
        self._dummy: str | None = None

    def add(self, name: str, role: str, password: str, now: float | None = None) -> None:
        if not NAME_PATTERN.fullmatch(name):
            raise AccountError(f"{name!r} is not an account name: 1 to 64 letters, digits, '.', '_', "
                               "'@' or '-', starting with a letter or digit")
        if role not in ROLES:
            raise AccountError(f"role {role!r}: use admin or viewer")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
        if self.get(name) is not None:
            raise AccountError(f"account {name} exists already: remove it first to change it")
        created = self._storage.dialect.to_db_time(time.time() if now is None else now)
        self._change(INSERT, [name, role, self._hasher.hash(password), created])

    def remove(self, name: str) -> None:
        if not self._change(DELETE, [name]):
            raise AccountError(f"there is no account {name}")

    def list(self) -> list[Account]:
        rows = self._storage.read(SELECT_ALL, [])
        to_time = self._storage.dialect.from_db_time
        return [Account(name, role, to_time(created)) for name, role, created in rows]

    def any(self) -> bool:
        return bool(self._storage.read(SELECT_ANY, []))

    def get(self, name: str) -> Account | None:
        rows = self._storage.read(self._sql(SELECT_ONE), [name])
        if not rows:
            return None
        name, role, created = rows[0]
        return Account(name, role, self._storage.dialect.from_db_time(created))

    def verify(self, name: str, password: str) -> Account | None:
        """The account when the password is right, else None (same work for an unknown name)."""
        rows = self._storage.read(self._sql(SELECT_HASH), [name])
        # An unknown name is checked against a hash too, so timing does not tell which names exist.
        stored = rows[0][0] if rows else self._dummy_hash()
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.get(name) if rows else None

    def _change(self, statement: str, params: list) -> int:
        with self._storage.transaction("change the dashboard accounts in") as tx:
            return tx.execute(self._sql(statement), params)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._mark)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash("not the password of anyone")
        return self._dummy
