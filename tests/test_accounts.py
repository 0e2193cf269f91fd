"""Who a process counts for: service accounts by SID (their names are translated), names without
the domain and case-folded, the SID where no name can be had."""
from __future__ import annotations

import pytest

from node.accounts import Account, is_service_account, owner_from_account, token_user


@pytest.mark.parametrize("account, service", [
    (Account("S-1-5-18", "NT AUTHORITY", "SYSTEM"), True),
    (Account("S-1-5-19", "AUTORITE NT", "SERVICE LOCAL"), True),
    (Account("S-1-5-20", "NT-AUTORITÄT", "NETZWERKDIENST"), True),
    (Account("S-1-5-80-123-456", "NT SERVICE", "MSSQLSERVER"), True),
    (Account("S-1-5-96-0-1", "Font Driver Host", "UMFD-1"), True),
    (Account("S-1-5-21-1-2-3-1105", "LAB", "PC07$"), True),
    (Account("", "", "SYSTEM"), True),
    (Account("S-1-5-21-1-2-3-1200", "LAB", "alice"), False),
    (Account("S-1-5-21-1-2-3-1201", "LAB", "system-admin"), False),
])
def test_service_accounts(account: Account, service: bool) -> None:
    assert is_service_account(account) is service


def test_a_person_is_one_user_whatever_the_case_and_domain() -> None:
    assert owner_from_account(Account("S-1-5-21-1-1200", "LAB", "Alice")) == "alice"
    assert owner_from_account(Account("S-1-5-21-1-1200", "lab-pc07", "ALICE")) == "alice"
    assert owner_from_account(Account("S-1-5-18", "NT AUTHORITY", "SYSTEM")) is None


def test_an_account_without_a_name_is_its_sid() -> None:
    assert owner_from_account(Account("S-1-5-21-1-2-3-1200", "", "")) == "S-1-5-21-1-2-3-1200"


def test_the_token_decides_and_the_environment_plays_no_part(monkeypatch) -> None:
    monkeypatch.setenv("USERNAME", "teacher")
    monkeypatch.setenv("USER", "teacher")
    assert token_user(lambda: Account("S-1-5-21-1-1200", "LAB", "Alice"), lambda: "LAB\\teacher") == "alice"


def test_an_unreadable_token_falls_back_to_psutils_reading(caplog) -> None:
    def refuse() -> Account:
        raise PermissionError(5, "Access is denied")
    assert token_user(refuse, lambda: "LAB\\Alice") == "alice"
    assert "cannot read this process's token" in caplog.text


def test_on_posix_the_user_comes_from_the_uid_not_the_environment(monkeypatch) -> None:
    import os
    import pwd

    from node.platform import current_user
    for variable in ("USER", "LOGNAME", "USERNAME", "LNAME"):
        monkeypatch.setenv(variable, "teacher")
    assert current_user() == pwd.getpwuid(os.geteuid()).pw_name
