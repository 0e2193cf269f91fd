"""Dashboard accounts in web_users, on both backends; the lockout clock; pseudonyms and key files."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from hub.storage import Storage
from hub.web.accounts import AccountError, Accounts
from hub.web.lockout import Lockout
from hub.web.pseudonym import KEY_FILE, Pseudonymizer

# The cheapest argon2 settings: the tests check the rules, not the cost of guessing.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_accounts_are_added_checked_listed_and_removed(storage: Storage) -> None:
    accounts = Accounts(storage, FAST)
    assert not accounts.any()
    accounts.add("ada", "admin", "long enough password", now=1_800_000_000.0)
    accounts.add("vic", "viewer", "another long password")
    assert accounts.any()
    assert [(a.name, a.role) for a in accounts.list()] == [("ada", "admin"), ("vic", "viewer")]
    assert accounts.list()[0].created == 1_800_000_000.0
    assert accounts.verify("ada", "long enough password").role == "admin"
    assert accounts.verify("ada", "another long password") is None
    assert accounts.verify("nobody", "long enough password") is None
    accounts.remove("vic")
    assert accounts.get("vic") is None
    with pytest.raises(AccountError, match="there is no account vic"):
        accounts.remove("vic")


def test_only_an_argon2_hash_is_stored(storage: Storage) -> None:
    Accounts(storage, FAST).add("ada", "admin", "long enough password")
    (stored,), = storage.read("SELECT passwordHash FROM web_users", [])
    assert stored.startswith("$argon2id$") and "long enough password" not in stored


@pytest.mark.parametrize("name, role, password, why", [
    ("ada", "admin", "short", "too short"),
    ("ada", "root", "long enough password", "use admin or viewer"),
    ("a b", "admin", "long enough password", "not an account name"),
])
def test_mistakes_are_refused_with_a_reason(storage: Storage, name: str, role: str, password: str,
                                            why: str) -> None:
    with pytest.raises(AccountError, match=why):
        Accounts(storage, FAST).add(name, role, password)


def test_an_account_cannot_be_added_twice(storage: Storage) -> None:
    accounts = Accounts(storage, FAST)
    accounts.add("ada", "admin", "long enough password")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("ada", "viewer", "long enough password")


def test_five_wrong_passwords_lock_for_a_while_then_the_lock_ends() -> None:
    now = [0.0]
    lockout = Lockout(attempts=5, window=900, lock=300, clock=lambda: now[0])
    for _ in range(4):
        lockout.failed("name:ada")
    assert lockout.wait_seconds("name:ada") == 0
    lockout.failed("name:ada")
    assert lockout.wait_seconds("name:ada", "name:other") == 300
    now[0] = 299.0
    assert lockout.wait_seconds("name:ada") == pytest.approx(1.0)
    now[0] = 301.0
    assert lockout.wait_seconds("name:ada") == 0


def test_failures_far_apart_do_not_add_up() -> None:
    now = [0.0]
    lockout = Lockout(attempts=3, window=60, lock=300, clock=lambda: now[0])
    for _ in range(5):
        lockout.failed("name:ada")
        now[0] += 31
    assert lockout.wait_seconds("name:ada") == 0


def test_a_right_password_clears_the_count() -> None:
    lockout = Lockout(attempts=3, clock=lambda: 0.0)
    lockout.failed("name:ada")
    lockout.failed("name:ada")
    lockout.succeeded("name:ada")
    lockout.failed("name:ada")
    assert lockout.wait_seconds("name:ada") == 0


def test_pseudonyms_are_stable_per_key_and_the_key_is_owner_only(tmp_path: Path) -> None:
    first = Pseudonymizer.from_keys_dir(tmp_path / "keys")
    again = Pseudonymizer.from_keys_dir(tmp_path / "keys")
    other = Pseudonymizer.from_keys_dir(tmp_path / "other-keys")
    assert first("alice") == again("alice") != first("bob")
    assert first("alice") != other("alice")
    assert first("alice").startswith("user-") and "alice" not in first("alice")
    mode = stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode)
    assert mode == 0o600
