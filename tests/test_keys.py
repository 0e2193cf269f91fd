"""CURVE key files and the key commands of hub and node: what they write, refuse and report."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import zmq

from common.curve import (KeyFileError, is_z85_key, owns, public_key_from, read_key_file, read_metadata,
                          same_name, valid_name, write_key_pair)
from hub.auth import load_allow_list
from hub.keys import allow, init_hub_keys, list_keys, revoke
from node.keys import curve_client, init_node_keys
from tests.processes import python_env, run_cli
from tests.sandbox import read_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_pair_has_an_owner_only_secret_and_a_shareable_public_file(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path / "keys", "node", {"name": "pc-01"})
    secret, public = tmp_path / "keys" / "node.key_secret", tmp_path / "keys" / "node.key"
    assert (mode(secret), mode(public)) == (0o600, 0o644)
    # pyzmq's own reader understands the files; the secret never shows in a repr.
    assert zmq.auth.load_certificate(secret) == (pair.public, pair.secret)
    assert zmq.auth.load_certificate(public) == (pair.public, None)
    assert read_metadata(public) == read_metadata(secret) == {"name": "pc-01"}
    assert pair.secret.decode() not in repr(pair)
    assert not list((tmp_path / "keys").glob(".*"))   # no temporary file left behind


def test_an_existing_pair_is_kept_unless_forced(tmp_path: Path) -> None:
    first = write_key_pair(tmp_path, "hub", {})
    with pytest.raises(KeyFileError, match="already exists: keep it, or add --force"):
        write_key_pair(tmp_path, "hub", {})
    assert read_key_file(tmp_path / "hub.key_secret", need_secret=True) == first
    second = write_key_pair(tmp_path, "hub", {}, force=True)
    assert second.public != first.public
    assert read_key_file(tmp_path / "hub.key").public == second.public


def test_public_keys_from_text_or_file(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, "hub", {})
    text = pair.public.decode()
    assert is_z85_key(text) and not is_z85_key(text[:-1]) and not is_z85_key("x" * 39 + "~")
    assert public_key_from(text) == pair.public
    assert public_key_from(str(tmp_path / "hub.key")) == pair.public
    with pytest.raises(KeyFileError, match="neither a 40-character public key nor an existing key file"):
        public_key_from("not-a-key")
    (tmp_path / "empty.key").write_text("metadata\n")
    with pytest.raises(KeyFileError, match="holds no public key"):
        public_key_from(str(tmp_path / "empty.key"))


@pytest.mark.parametrize("name, ok", [
    ("pc-01", True), ("LAB-PC01.school.example", True), ("a_b", True), ("", False), ("../x", False),
    ("a/b", False), (".hidden", False), ("pc 01", False), ("pc\\01", False), ("x" * 201, False),
])
def test_node_names_cannot_leave_the_allow_list_folder(name: str, ok: bool) -> None:
    assert valid_name(name) is ok


def test_a_key_speaks_for_its_name_and_the_users_under_it() -> None:
    assert owns("pc-01", "pc-01") and owns("pc-01", "pc-01/alice") and owns("pc-01", "pc-01/a/b")
    assert not owns("pc-01", "pc-010/alice") and not owns("pc-01", "pc-0") and not owns("pc-01", "pc-02/x")


def test_computer_names_compare_ignoring_ascii_case_only() -> None:
    # A Windows PC may call itself PC-07 although it was enrolled as pc-07: one computer.
    assert same_name("pc-07", "PC-07") and owns("pc-07", "PC-07/Alice") and owns("LAB-PC07", "lab-pc07")
    # Characters that lower-case to ASCII letters (the Kelvin sign, dotted capital I) are others.
    assert not same_name("kpc", "\u212apc") and not owns("kpc", "\u212apc/x")
    assert not same_name("ipc", "\u0130pc") and not owns("ipc", "\u0130pc/x")
    assert same_name("bücher", "bücher") and not same_name("bücher", "BÜCHER")


def test_allow_revoke_and_list(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert "hub public key:" in init_hub_keys(keys, force=False)
    node_folder = tmp_path / "pc-01"
    assert "node name pc-01" in init_node_keys(node_folder, "pc-01", force=False)
    node_key = read_key_file(node_folder / "node.key").public.decode()
    other = write_key_pair(tmp_path / "other", "node", {}).public.decode()

    # The name comes from the key file's metadata; a bare key needs --name.
    assert allow(keys, [str(node_folder / "node.key")]) == f"allowed pc-01: {node_key}"
    assert allow(keys, [str(node_folder / "node.key")]) == "pc-01 was already allowed"
    with pytest.raises(KeyFileError, match="needs --name"):
        allow(keys, [other])
    with pytest.raises(KeyFileError, match="already allowed with another key"):
        allow(keys, [other], "pc-01")
    with pytest.raises(KeyFileError, match="already allowed as 'pc-01'"):
        allow(keys, [node_key], "pc-02")
    with pytest.raises(KeyFileError, match="is a secret key file"):
        allow(keys, [str(node_folder / "node.key_secret")])
    with pytest.raises(KeyFileError, match="not a node name"):
        allow(keys, [other], "../escape")
    assert allow(keys, [other], "pc-02") == f"allowed pc-02: {other}"

    allowed, problems = load_allow_list(keys / "allowed")
    assert dict(allowed.names) == {node_key: "pc-01", other: "pc-02"} and problems == []
    listing = list_keys(keys)
    assert "allowed node keys in" in listing and f"pc-02  {other}" in listing

    with pytest.raises(KeyFileError, match="is not allowed"):
        revoke(keys, ["pc-03"])
    with pytest.raises(KeyFileError, match="not a node name"):
        revoke(keys, ["../keys/hub"])
    assert (keys / "hub.key").exists()
    assert "revoked pc-01" in revoke(keys, ["pc-01"])
    assert dict(load_allow_list(keys / "allowed")[0].names) == {other: "pc-02"}
    # A replaced key takes the name over with --force.
    assert allow(keys, [node_key], "pc-02", force=True) == f"allowed pc-02: {node_key}"


def test_the_allow_list_skips_files_it_cannot_use(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path / "src", "node", {})
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "good.key").write_bytes((tmp_path / "src" / "node.key").read_bytes())
    (folder / "twin.key").write_bytes((tmp_path / "src" / "node.key").read_bytes())
    (folder / "broken.key").write_text("curve\n")
    (folder / "bad name.key").write_bytes((tmp_path / "src" / "node.key").read_bytes())
    (folder / "notes.txt").write_text("ignored: not a .key file\n")
    allowed, problems = load_allow_list(folder)
    assert dict(allowed.names) == {pair.public.decode(): "good"}
    assert len(problems) == 3
    assert any("already allowed as 'good'" in p for p in problems)
    assert any("not a node name" in p for p in problems)


def test_a_node_with_hub_key_but_no_pair_says_what_to_run(tmp_path: Path) -> None:
    hub = write_key_pair(tmp_path / "hub", "hub", {})
    assert curve_client("", tmp_path / "node") is None
    with pytest.raises(KeyFileError, match="run procmesh-node keys init"):
        curve_client(hub.public.decode(), tmp_path / "node")
    init_node_keys(tmp_path / "node", "pc-01", force=False)
    client = curve_client(str(tmp_path / "hub" / "hub.key"), tmp_path / "node")
    assert client is not None and client.hub_key == hub.public and client.name == "pc-01"


def test_key_commands_end_to_end(tmp_path: Path) -> None:
    env = python_env(tmp_path)
    node = run_cli("node", "keys", "init", "--name", "lab-pc01", cwd=tmp_path, env=env)
    assert node.returncode == 0, node.stderr
    # Without --keys-dir the node's pair goes to the user's configuration folder.
    node_public = tmp_path / "config" / "procmesh" / "node.key"
    assert node_public.exists() and "procmesh-hub keys allow" in node.stdout
    again = run_cli("node", "keys", "init", cwd=tmp_path, env=env)
    assert again.returncode == 1 and again.stderr.startswith("procmesh-node: error: ")
    assert "already exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1

    assert run_cli("hub", "keys", "init", cwd=tmp_path).returncode == 0
    allowed = run_cli("hub", "keys", "allow", str(node_public), cwd=tmp_path)
    assert allowed.returncode == 0 and "allowed lab-pc01" in allowed.stdout
    listing = run_cli("hub", "keys", "list", cwd=tmp_path)
    assert "lab-pc01" in listing.stdout
    missing = run_cli("hub", "keys", "revoke", "lab-pc02", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "Traceback" not in missing.stderr


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mask", [0o000, 0o002, 0o022, 0o277], ids=lambda mask: f"umask-{mask:03o}")
def test_keys_init_makes_folders_only_their_owner_can_use_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    hub_keys, node_keys = tmp_path / "hub" / "keys", tmp_path / "node" / "procmesh"
    with umask(mask):
        init_hub_keys(hub_keys, force=False)
        init_node_keys(node_keys, "pc-01", force=False)
    assert [mode(f) for f in (hub_keys, hub_keys / "allowed", node_keys)] == [0o700] * 3
    for secret in (hub_keys / "hub.key_secret", node_keys / "node.key_secret"):
        assert mode(secret) & 0o077 == 0


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_hub_keys_init_narrows_an_open_folder_and_node_keys_init_leaves_a_shared_one(tmp_path: Path) -> None:
    # allowed/ made by hand with a umask of 002: the whole group could admit node keys.
    hub_keys = tmp_path / "keys"
    (hub_keys / "allowed").mkdir(parents=True)
    for folder in (hub_keys, hub_keys / "allowed"):
        folder.chmod(0o775)
    init_hub_keys(hub_keys, force=False)
    assert (mode(hub_keys), mode(hub_keys / "allowed")) == (0o700, 0o700)
    # A machine-wide folder that already holds node.toml must stay readable for the login nodes.
    machine = tmp_path / "etc-xdg" / "procmesh"
    machine.mkdir(parents=True)
    machine.chmod(0o755)
    init_node_keys(machine, "pc-01", force=False)
    assert mode(machine) == 0o755


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_keys_allow_before_init_makes_owner_only_folders(tmp_path: Path) -> None:
    node = write_key_pair(tmp_path / "src", "node", {}).public.decode()
    with umask(0o002):
        allow(tmp_path / "keys", [node], "pc-01")
    assert (mode(tmp_path / "keys"), mode(tmp_path / "keys" / "allowed")) == (0o700, 0o700)


def test_names_that_differ_only_in_case_are_one_name(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_hub_keys(keys, force=False)
    first = write_key_pair(tmp_path / "first", "node", {}).public.decode()
    second = write_key_pair(tmp_path / "second", "node", {}).public.decode()
    assert allow(keys, [first], "PC-07") == f"allowed PC-07: {first}"
    assert allow(keys, [first], "pc-07") == "PC-07 was already allowed"
    with pytest.raises(KeyFileError, match="PC-07 is already allowed with another key"):
        allow(keys, [second], "pc-07")
    # A replaced key keeps the spelling first allowed: it is the computer name stored.
    assert allow(keys, [second], "pc-07", force=True) == f"allowed PC-07: {second}"
    assert sorted(p.name for p in (keys / "allowed").iterdir()) == ["PC-07.key"]
    assert dict(load_allow_list(keys / "allowed")[0].names) == {second: "PC-07"}
    assert revoke(keys, ["pc-07"]).startswith("revoked PC-07:")
    assert list((keys / "allowed").iterdir()) == []


def test_an_allow_list_holding_a_name_in_two_cases_admits_the_first_only(tmp_path: Path) -> None:
    folder = tmp_path / "allowed"
    folder.mkdir()
    upper = write_key_pair(tmp_path / "a", "node", {}).public
    write_key_pair(tmp_path / "b", "node", {})
    (folder / "PC-08.key").write_bytes((tmp_path / "a" / "node.key").read_bytes())
    (folder / "pc-08.key").write_bytes((tmp_path / "b" / "node.key").read_bytes())
    allowed, problems = load_allow_list(folder)
    assert dict(allowed.names) == {upper.decode(): "PC-08"}
    assert len(problems) == 1 and "already allowed as 'PC-08' (names are compared ignoring case)" in problems[0]


def test_keys_revoke_in_a_read_only_folder_says_so_in_one_line_and_keeps_the_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_hub_keys(keys, force=False)
    allow(keys, [write_key_pair(tmp_path / "src", "node", {}).public.decode()], "pc-01")
    result = run_cli("hub", "keys", "revoke", "pc-01", "--keys-dir", str(keys), cwd=tmp_path,
                     wrapper=read_only(keys / "allowed"))
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip() == (f"procmesh-hub: error: cannot revoke pc-01: cannot delete "
                                     f"{keys / 'allowed' / 'pc-01.key'}: Read-only file system")
    assert (keys / "allowed" / "pc-01.key").exists()
