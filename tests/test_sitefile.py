"""Where the machine-wide node.toml is, and which one counts: every XDG_CONFIG_DIRS entry in order,
/etc/xdg in any case, and only a file that root alone can have written."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from node.sitefile import candidates, find, owned_by_root

as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="files owned by root need root")


def test_every_xdg_config_dirs_entry_is_searched_in_order_then_etc_xdg() -> None:
    places = candidates("linux", {"XDG_CONFIG_DIRS": "/etc/xdg/xdg-ubuntu:relative:/usr/share/kubuntu:/etc/xdg"})
    assert places == [Path("/etc/xdg/xdg-ubuntu/procmesh/node.toml"),
                      Path("/usr/share/kubuntu/procmesh/node.toml"), Path("/etc/xdg/procmesh/node.toml")]


def test_without_xdg_config_dirs_it_is_etc_xdg() -> None:
    assert candidates("linux", {}) == [Path("/etc/xdg/procmesh/node.toml")]
    # A user's own XDG_CONFIG_DIRS cannot hide the machine's file.
    assert candidates("linux", {"XDG_CONFIG_DIRS": "/home/ana/x"})[-1] == Path("/etc/xdg/procmesh/node.toml")


def test_the_first_trusted_file_is_used_and_others_are_logged(tmp_path: Path, caplog) -> None:
    places = [tmp_path / n / "procmesh" / "node.toml" for n in ("missing", "user", "admin", "later")]
    for place in places[1:]:
        place.parent.mkdir(parents=True)
        place.write_text("")
    trusted = {places[2], places[3]}
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        assert find(places, trusted.__contains__) == places[2]
    [line] = [r.getMessage() for r in caplog.records]
    assert str(places[1]) in line and "must belong to root" in line
    assert find(places[:2], trusted.__contains__) is None


@as_root
def test_only_root_may_have_written_the_file_and_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "procmesh"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    place = folder / "node.toml"
    place.write_text("")
    os.chmod(place, 0o644)
    assert owned_by_root(place)
    os.chmod(place, 0o664)
    assert not owned_by_root(place)
    os.chmod(place, 0o644)
    os.chmod(folder, 0o777)
    assert not owned_by_root(place)
    os.chmod(folder, 0o755)
    os.chown(place, 65534, 65534)
    assert not owned_by_root(place)
