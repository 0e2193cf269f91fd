"""Settings layering: flag > env > TOML > default, with one-line errors naming the source."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from common.settings import (Option, SettingsError, add_options, boolean, positive_seconds, resolve,
                             settings_file, tomllib)
from hub.cli import ALL_OPTIONS as HUB_OPTIONS
from node.cli import OPTIONS as NODE_OPTIONS

OPTIONS = (
    Option("db", "sqlite:///procmesh.db", "database"),
    Option("interval", 5.0, "seconds", positive_seconds),
    Option("scope", "user", "scope", choices=("user", "all")),
)
REPO = Path(__file__).resolve().parent.parent


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser, OPTIONS)
    return parser.parse_args(argv)


def test_defaults_when_nothing_is_set() -> None:
    assert resolve(OPTIONS, flags(), {}, environ={}) == {
        "db": "sqlite:///procmesh.db", "interval": 5.0, "scope": "user"}


def test_flag_beats_env_beats_file_beats_default() -> None:
    file_values = {"interval": 2, "db": "sqlite:///file.db", "scope": "all"}
    env = {"PROCMESH_INTERVAL": "3", "PROCMESH_DB": "sqlite:///env.db"}
    got = resolve(OPTIONS, flags("--interval", "4"), file_values, environ=env)
    assert got == {"interval": 4.0, "db": "sqlite:///env.db", "scope": "all"}


@pytest.mark.parametrize("argv, env, file_values, fragment", [
    (("--interval", "abc"), {}, {}, "option --interval: 'abc' is not a number"),
    ((), {"PROCMESH_INTERVAL": "0"}, {}, "environment variable PROCMESH_INTERVAL"),
    ((), {}, {"interval": "fast"}, "hub.toml: key 'interval'"),
    ((), {}, {"scope": "everyone"}, "is not one of user, all"),
    ((), {}, {"intervall": 5}, "hub.toml: unknown key 'intervall'"),
    ((), {}, {"interval": True}, "hub.toml: key 'interval': expected a number"),
])
def test_bad_values_name_their_source(argv, env, file_values, fragment) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(OPTIONS, flags(*argv), file_values, "hub.toml", environ=env)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_toml_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "hub.toml"
    bad.write_text("interval = = 5\n")
    with pytest.raises(SettingsError, match=r"hub.toml: invalid TOML"):
        settings_file(str(bad))
    with pytest.raises(SettingsError, match="cannot read settings file"):
        settings_file(str(tmp_path / "missing.toml"))


def test_fallback_file_is_read_only_when_present(tmp_path: Path) -> None:
    fallback = tmp_path / "node.toml"
    assert settings_file(None, fallback) == ({}, "settings file")
    fallback.write_text('hub = "lab-server"\n')
    assert settings_file(None, fallback) == ({"hub": "lab-server"}, str(fallback))


@pytest.mark.parametrize("sample, options", [("hub.toml", HUB_OPTIONS), ("node.toml", NODE_OPTIONS)])
def test_sample_files_document_every_key_at_its_default(sample: str, options) -> None:
    text = (REPO / "config" / sample).read_text()
    uncommented = "\n".join(line.lstrip("# ") for line in text.splitlines()
                            if line.startswith("# ") and " = " in line and not line.startswith("# Example:"))
    documented = tomllib.loads(uncommented)
    documented = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in documented.items()}
    assert documented == {o.key: o.default for o in options}


LIST = (Option("hub", ("localhost",), "hubs", multiple=True),)


def list_flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser, LIST)
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv, env, file_values, expected", [
    ((), {}, {}, ("localhost",)),
    (("--hub", "a", "--hub", "b"), {"PROCMESH_HUB": "c"}, {}, ("a", "b")),
    ((), {"PROCMESH_HUB": "a, b"}, {"hub": ["c"]}, ("a", "b")),
    ((), {}, {"hub": ["a", "b"]}, ("a", "b")),
    ((), {}, {"hub": "a"}, ("a",)),
])
def test_list_options_from_every_layer(argv, env, file_values, expected) -> None:
    assert resolve(LIST, list_flags(*argv), file_values, environ=env) == {"hub": expected}


@pytest.mark.parametrize("file_values", [{"hub": []}, {"hub": [True]}, {"hub": {"a": 1}}])
def test_bad_lists_are_one_line_errors(file_values) -> None:
    with pytest.raises(SettingsError, match="key 'hub'"):
        resolve(LIST, list_flags(), file_values, "node.toml", environ={})


SWITCH = (Option("curve", False, "encrypt", boolean),)


def switch_flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser, SWITCH)
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv, env, file_values, expected", [
    ((), {}, {}, False),
    (("--curve",), {}, {}, True),
    (("--no-curve",), {"PROCMESH_CURVE": "yes"}, {"curve": True}, False),
    ((), {"PROCMESH_CURVE": "1"}, {"curve": False}, True),
    ((), {"PROCMESH_CURVE": "off"}, {"curve": True}, False),
    ((), {}, {"curve": True}, True),
    ((), {}, {"curve": "false"}, False),
])
def test_switches_take_a_flag_an_env_word_or_a_toml_boolean(argv, env, file_values, expected) -> None:
    assert resolve(SWITCH, switch_flags(*argv), file_values, environ=env) == {"curve": expected}


@pytest.mark.parametrize("env, file_values, fragment", [
    ({"PROCMESH_CURVE": "maybe"}, {}, "environment variable PROCMESH_CURVE: 'maybe' is not true or false"),
    ({}, {"curve": [True]}, "hub.toml: key 'curve': expected true or false"),
])
def test_bad_switch_values_name_their_source(env, file_values, fragment) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(SWITCH, switch_flags(), file_values, "hub.toml", environ=env)
    assert fragment in str(caught.value)


ENDPOINTS = (Option("report_endpoint", (), "endpoints", multiple=True),
             Option("node_id", "", "id"), *OPTIONS)


def test_the_machine_wide_file_wins_over_the_environment_and_the_own_file() -> None:
    env = {"PROCMESH_REPORT_ENDPOINT": "tcp://nowhere:1", "PROCMESH_NODE_ID": "pc/teacher",
           "PROCMESH_INTERVAL": "3"}
    own = {"report_endpoint": ["tcp://elsewhere:1"], "interval": 2}
    policy = {"report_endpoint": ["tcp://hub:8806"], "node_id": ""}
    got = resolve(ENDPOINTS, {}, own, "own.toml", environ=env, policy=policy, policy_name="/etc/xdg/procmesh/node.toml")
    assert got["report_endpoint"] == ("tcp://hub:8806",) and got["node_id"] == ""
    assert got["interval"] == 3.0   # a key the machine-wide file leaves alone stays the user's


def test_the_command_line_still_wins_over_the_machine_wide_file() -> None:
    got = resolve(ENDPOINTS, {"report_endpoint": ["tcp://cli:1"]}, environ={},
                  policy={"report_endpoint": ["tcp://hub:8806"]})
    assert got["report_endpoint"] == ("tcp://cli:1",)


def test_an_empty_list_in_the_machine_wide_file_keeps_endpoints_derived() -> None:
    got = resolve(ENDPOINTS, {}, environ={"PROCMESH_REPORT_ENDPOINT": "tcp://nowhere:1"},
                  policy={"report_endpoint": []})
    assert got["report_endpoint"] == ()


def test_each_attempt_to_override_the_machine_wide_file_is_logged_once(caplog) -> None:
    env = {"PROCMESH_REPORT_ENDPOINT": "tcp://nowhere:1"}
    resolve(ENDPOINTS, {}, {"report_endpoint": ["tcp://x:1"]}, "own.toml", environ=env,
            policy={"report_endpoint": ["tcp://hub:8806"]}, policy_name="/etc/xdg/procmesh/node.toml")
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 2, lines
    assert "ignored environment variable PROCMESH_REPORT_ENDPOINT for 'report_endpoint'" in lines[0]
    assert "ignored own.toml for 'report_endpoint'" in lines[1]
    assert all("/etc/xdg/procmesh/node.toml sets it" in line for line in lines)


def test_unknown_keys_in_the_machine_wide_file_name_it() -> None:
    with pytest.raises(SettingsError, match="node.toml: unknown key 'hubb'"):
        resolve(ENDPOINTS, {}, environ={}, policy={"hubb": "x"}, policy_name="/etc/xdg/procmesh/node.toml")


def test_a_double_quoted_windows_path_is_refused_naming_the_key() -> None:
    from common.logs import LOG_OPTIONS
    values = tomllib.loads('log_file = "C:\\temp\\node.log"\n')   # \t: a TAB
    with pytest.raises(SettingsError) as caught:
        resolve(LOG_OPTIONS, {}, values, "node.toml", environ={})
    message = str(caught.value)
    assert message.startswith("node.toml: key 'log_file': ") and "control character" in message
    assert "single quotes" in message and "\n" not in message


def test_a_single_quoted_windows_path_is_taken_as_written() -> None:
    from common.logs import LOG_OPTIONS
    values = tomllib.loads("log_file = 'C:\\temp\\node.log'\n")
    assert resolve(LOG_OPTIONS, {}, values, environ={})["log_file"] == "C:\\temp\\node.log"


def test_paths_expand_percent_variables_and_the_home_folder(monkeypatch) -> None:
    from common.settings import expand_path, path_setting
    environ = {"LOCALAPPDATA": "C:\\Users\\ana\\AppData\\Local"}
    assert expand_path("%LOCALAPPDATA%\\procmesh\\node.log", environ) == \
        "C:\\Users\\ana\\AppData\\Local\\procmesh\\node.log"
    assert expand_path("%NOT_SET%\\x 100%", environ) == "%NOT_SET%\\x 100%"
    monkeypatch.setenv("HOME", "/home/ana")
    monkeypatch.setenv("PROCMESH_TEST_FOLDER", "/srv/lab")
    assert path_setting("~/procmesh/node.log") == "/home/ana/procmesh/node.log"
    assert path_setting("%PROCMESH_TEST_FOLDER%/node.log") == "/srv/lab/node.log"


def test_a_backslash_toml_error_suggests_single_quotes(tmp_path: Path) -> None:
    bad = tmp_path / "node.toml"
    bad.write_text('keys_dir = "C:\\ProgramData\\procmesh"\n')
    with pytest.raises(SettingsError) as caught:
        settings_file(str(bad))
    assert "invalid TOML" in str(caught.value) and "single quotes" in str(caught.value)
