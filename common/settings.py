"""Settings from four layers: command-line flag > environment variable > TOML file > default.

Each program declares its options once (``Option``); this module derives the flags, the env var
names (``PROCMESH_<KEY>``) and the TOML keys from that list, so the three can never drift apart.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from common.errors import ProcmeshError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "PROCMESH_"

log = logging.getLogger("procmesh.settings")


class SettingsError(ProcmeshError, ValueError):
    """A setting a person got wrong; the message is one line naming where it came from."""


@dataclass(frozen=True)
class Option:
    key: str
    default: Any
    help: str
    convert: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    # A list: the flag may repeat, the env var separates values by commas, TOML takes a list.
    multiple: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("is not a number") from None


def positive_seconds(text: str) -> float:
    value = _number(text)
    if not 0.05 <= value <= 86_400:
        raise ValueError("is out of range: use 0.05 to 86400 seconds")
    return value


def non_negative_seconds(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 86_400:
        raise ValueError("is out of range: use 0 to 86400 seconds")
    return value


def positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("is not a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def boolean(text: str) -> bool:
    """A switch: true/false, yes/no, on/off or 1/0 (TOML also takes a bare true or false)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("is not true or false")


def log_level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("is not one of DEBUG, INFO, WARNING, ERROR")
    return level


# Control characters never belong in a path; in TOML they come from a backslash in a double-quoted
# Windows path ("C:\temp" is C, colon, TAB, "emp").
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_()]*)%")
SINGLE_QUOTE_HINT = "write Windows paths in single quotes in TOML, e.g. 'C:\\ProgramData\\procmesh'"


def expand_path(text: str, environ: Mapping[str, str]) -> str:
    """``%VAR%`` (as cmd.exe does; unknown names stay as written), then a leading ``~``."""
    expanded = _PERCENT_VARIABLE.sub(lambda m: environ.get(m.group(1), m.group(0)), text)
    return os.path.expanduser(expanded)


def path_setting(text: str) -> str:
    """A file or folder: no control characters; ``%VAR%`` and ``~`` expanded."""
    if _CONTROL.search(text):
        raise ValueError(f"contains a control character, so it cannot be a path ({SINGLE_QUOTE_HINT})")
    return expand_path(text, os.environ)


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Add one flag per option; flags default to None so an unset flag defers to lower layers."""
    for option in options:
        # An empty default means "derived" or "none"; the help text itself says which.
        default = f"; default: {option.default!r}" if option.default not in ("", ()) else ""
        if option.convert is boolean:
            # --curve / --no-curve; unset stays None so the lower layers decide.
            parser.add_argument(option.flag, dest=option.key, default=None,
                                action=argparse.BooleanOptionalAction,
                                help=f"{option.help} (env {option.env}{default})")
            continue
        parser.add_argument(
            option.flag, dest=option.key, default=None, choices=option.choices,
            action="append" if option.multiple else "store",
            metavar=option.metavar, help=f"{option.help} (env {option.env}{default})",
        )


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        hint = f" ({SINGLE_QUOTE_HINT})" if "\\" in str(exc) else ""
        raise SettingsError(f"{path}: invalid TOML: {exc}{hint}") from None


def resolve(options: Sequence[Option], flags: argparse.Namespace | Mapping[str, Any],
            file_values: Mapping[str, Any] | None = None, file_name: str = "settings file",
            environ: Mapping[str, str] | None = None, policy: Mapping[str, Any] | None = None,
            policy_name: str = "machine-wide settings file") -> dict[str, Any]:
    """Merge the layers; every value is converted and checked the same way whatever its source.

    ``policy`` (the machine-wide file an administrator wrote) sits between the flags and the
    environment: a user's environment variables and own settings file cannot override its keys,
    and trying to is logged. The command line still wins, because whoever controls it controls the
    whole process anyway."""
    environ = os.environ if environ is None else environ
    file_values = dict(file_values or {})
    policy = dict(policy or {})
    flag_values = vars(flags) if isinstance(flags, argparse.Namespace) else dict(flags)
    known = {option.key for option in options}
    for values, name in ((policy, policy_name), (file_values, file_name)):
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"{name}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")

    resolved: dict[str, Any] = {}
    for option in options:
        if option.key in policy:
            _log_overrides(option, environ, file_values, file_name, policy_name)
        if flag_values.get(option.key) is not None:
            source, raw = f"option {option.flag}", flag_values[option.key]
        elif option.key in policy:
            source, raw = f"{policy_name}: key {option.key!r}", policy[option.key]
        elif environ.get(option.env):
            source, raw = f"environment variable {option.env}", environ[option.env]
        elif option.key in file_values:
            source, raw = f"{file_name}: key {option.key!r}", file_values[option.key]
        else:
            resolved[option.key] = option.default
            continue
        resolved[option.key] = _convert(option, raw, source)
    return resolved


def _log_overrides(option: Option, environ: Mapping[str, str], file_values: Mapping[str, Any],
                   file_name: str, policy_name: str) -> None:
    attempts = ([f"environment variable {option.env}"] if environ.get(option.env) else []) + (
        [f"{file_name}"] if option.key in file_values else [])
    for attempt in attempts:
        log.warning("ignored %s for %r: %s sets it, and the machine-wide file wins", attempt,
                    option.key, policy_name)


def _convert(option: Option, raw: Any, source: str) -> Any:
    if option.multiple:
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        # An empty list is the default of a derived list (endpoints): a machine-wide file uses it
        # to keep that default from being overridden.
        if not isinstance(raw, list) or (not raw and option.default != ()):
            raise SettingsError(f"{source}: expected one or more values")
        return tuple(_convert_one(option, item, source) for item in raw)
    return _convert_one(option, raw, source)


def _convert_one(option: Option, raw: Any, source: str) -> Any:
    if option.convert is boolean and isinstance(raw, bool):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        numeric = isinstance(option.default, (int, float)) and not isinstance(option.default, bool)
        expected = "true or false" if option.convert is boolean else "a number" if numeric else "a string"
        raise SettingsError(f"{source}: expected {expected}")
    try:
        value = option.convert(str(raw))
    except ValueError as exc:
        raise SettingsError(f"{source}: {raw!r} {exc}" if str(exc) else f"{source}: invalid value {raw!r}") from None
    if option.choices is not None and value not in option.choices:
        raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(option.choices)}")
    return value


def settings_file(explicit: str | None, fallback: Path | None = None) -> tuple[dict[str, Any], str]:
    """The TOML layer: the file named by --config, else ``fallback`` if it exists, else nothing."""
    if explicit:
        return load_toml(explicit), explicit
    if fallback is not None and fallback.is_file():
        return load_toml(fallback), str(fallback)
    return {}, "settings file"
