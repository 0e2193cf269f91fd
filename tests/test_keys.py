"""CURVE key files and the key commands of hub and node: what they write, refuse and report."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq

from common.curve import (KeyFileError, is_z85_key, owns, public_key_from, read_key_file, read_metadata,
                          valid_name, write_key_pair)
from hub.auth import load_allow_list
from hub.keys import allow, init_hub_keys, list_keys, revoke
from node.keys import curve_client, init_node_keys
from tests.processes import python_env, run_cli


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
    assert not owns("pc-01", "pc-010/alice") and not owns("pc-01", "pc-0") and not owns("pc-01", "PC-01/x")


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
