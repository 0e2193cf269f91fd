"""The watch list (monitorProcesses.txt): parsing it, and matching processes against it.

Each non-blank, non-comment line is one entry:

    chrome.exe                         label "chrome.exe", matched by that process name
    Office = winword, excel, re:pow.*  label "Office", matched by any of the patterns

Patterns: a plain name (case-insensitive, a trailing ".exe" ignored on both sides), a glob
(contains * ? or [), "re:REGEX" (full match on the process name, case-insensitive),
"cmd:GLOB" (matched against the command line joined with single spaces) and
"cmd(NAME):GLOB", which reads the command line only of processes whose name matches the glob
NAME: reading a command line means reading the process's memory, which a node running as SYSTEM
or root would otherwise do for every process on the machine.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from common.errors import ProcmeshError

_MAX_LABEL_LENGTH = 255
# Process names repeat on every scan, so remembered answers pay off; the bound keeps a host that
# spawns endless uniquely named processes from growing the memo without limit.
MEMO_LIMIT = 4096

_REGEX_PREFIX = "re:"
_CMDLINE_PREFIX = "cmd:"
_NAMED_CMDLINE_PREFIX = "cmd("
_GLOB_CHARS = frozenset("*?[")
_NOTHING: frozenset[str] = frozenset()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WatchEntry:
    label: str
    patterns: tuple[str, ...]


class WatchListError(ProcmeshError, ValueError):
    """A watch list that cannot be used; str() is "line N: why", or just "why" without a line."""

    def __init__(self, why: str, line: int | None = None) -> None:
        super().__init__(why if line is None else f"line {line}: {why}")
        self.line = line


def parse_watchlist(text: str) -> list[WatchEntry]:
    """Entries in file order; any bad line rejects the whole text with WatchListError."""
    return [entry for _, entry in parse_numbered(text)]


def parse_numbered(text: str) -> list[tuple[int, WatchEntry]]:
    """(line number, entry) in file order, for files of the same syntax whose later checks name
    the line (the hub's labs.txt and licenses.txt)."""
    entries: list[tuple[int, WatchEntry]] = []
    first_line_of: dict[str, int] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = _parse_line(line)
        except WatchListError as err:
            raise WatchListError(str(err), number) from None
        # Labels that differ only in case read as one program to a person and would merge in any
        # case-insensitive query over the records, so they count as the same label here.
        key = entry.label.casefold()
        if key in first_line_of:
            raise WatchListError(
                f"label {entry.label!r} is already defined on line {first_line_of[key]}", number)
        first_line_of[key] = number
        entries.append((number, entry))
    return entries


def load_watchlist(path: str | os.PathLike[str]) -> list[WatchEntry]:
    """Read and parse a watch list file (UTF-8, with or without BOM)."""
    return parse_watchlist(read_list_file(path, "watch list"))


def read_list_file(path: str | os.PathLike[str], what: str) -> str:
    """The text of a file in watch-list syntax (UTF-8, with or without BOM); ``what`` names it in errors."""
    shown = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        raise WatchListError(f"cannot read {what} {shown}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise WatchListError(
            f"{what} {shown} is not UTF-8 text (invalid byte on line {line})") from None


def _parse_line(line: str) -> WatchEntry:
    if "=" in line:
        label, _, rest = line.partition("=")
        label = label.strip()
        if not label:
            raise WatchListError("empty label before '='")
        if not rest.strip():
            raise WatchListError(f"label {label!r} has no patterns after '='")
        patterns = tuple(pattern.strip() for pattern in rest.split(","))
    else:
        label, patterns = line, (line,)
    if len(label) > _MAX_LABEL_LENGTH:
        raise WatchListError(
            f"label is {len(label)} characters long, the limit is {_MAX_LABEL_LENGTH}")
    for pattern in patterns:
        if not pattern:
            raise WatchListError(f"empty pattern in label {label!r}")
        _compile(pattern)
    return WatchEntry(label, patterns)


@dataclass(frozen=True, slots=True)
class _RegexRule:
    regex: re.Pattern[str]
    on_cmdline: bool
    # Globs also try the process name without ".exe", as plain names do; "re:" matches as written.
    try_without_exe: bool
    # cmd(NAME): only processes whose name matches this are worth reading the command line of.
    name_filter: re.Pattern[str] | None = None


def _compile(pattern: str) -> str | _RegexRule:
    """A plain pattern's normalised name, or the regex rule of any other pattern."""
    if pattern.startswith(_NAMED_CMDLINE_PREFIX):
        name, separator, glob = pattern[len(_NAMED_CMDLINE_PREFIX):].partition("):")
        if not separator or not name.strip() or not glob.strip():
            raise WatchListError(f"{pattern!r}: write cmd(PROGRAM):GLOB, e.g. cmd(python*):*jupyter-lab*")
        return _RegexRule(_glob_regex(glob.strip()), True, False, _glob_regex(_without_exe(name.strip())))
    if pattern.startswith(_CMDLINE_PREFIX):
        return _RegexRule(_glob_regex(_body(pattern, _CMDLINE_PREFIX)), True, False)
    if pattern.startswith(_REGEX_PREFIX):
        body = _body(pattern, _REGEX_PREFIX)
        try:
            regex = re.compile(body, re.IGNORECASE)
        except re.error as err:
            raise WatchListError(f"bad regular expression {body!r}: {err}") from None
        return _RegexRule(regex, False, False)
    if _GLOB_CHARS.intersection(pattern):
        return _RegexRule(_glob_regex(_without_exe(pattern)), False, True)
    return _without_exe(pattern).lower()


def _body(pattern: str, prefix: str) -> str:
    body = pattern[len(prefix):].strip()
    if not body:
        raise WatchListError(f"nothing after {prefix!r}")
    return body


def _glob_regex(glob: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(glob), re.IGNORECASE)


def _without_exe(name: str) -> str:
    return name[:-4] if name[-4:].lower() == ".exe" else name


class Matcher:
    """Which labels a process belongs to; built once per watch list, queried for every process."""

    def __init__(self, entries: Sequence[WatchEntry]) -> None:
        by_plain_name: dict[str, set[str]] = {}
        self._name_rules: list[tuple[str, re.Pattern[str], bool]] = []
        self._cmdline_rules: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = []
        for entry in entries:
            for pattern in entry.patterns:
                rule = _compile(pattern)
                if isinstance(rule, str):
                    by_plain_name.setdefault(rule, set()).add(entry.label)
                elif rule.on_cmdline:
                    self._cmdline_rules.append((entry.label, rule.regex, rule.name_filter))
                else:
                    self._name_rules.append((entry.label, rule.regex, rule.try_without_exe))
        self._by_plain_name = {name: frozenset(labels) for name, labels in by_plain_name.items()}
        self._memo: dict[str, frozenset[str]] = {}
        self._cmdline_memo: dict[str, bool] = {}
        self.has_cmd_patterns = bool(self._cmdline_rules)
        # cmd: patterns without a program name make every process's command line worth reading.
        self.reads_every_cmdline = any(name is None for _, _, name in self._cmdline_rules)

    def match_name(self, name: str) -> frozenset[str]:
        """Labels whose plain, glob or re: patterns match this process name."""
        return _remembered(self._memo, name, self._match_name_uncached)

    def _match_name_uncached(self, name: str) -> frozenset[str]:
        stem = _without_exe(name)
        plain = self._by_plain_name.get(stem.lower(), _NOTHING)
        matched = {
            label for label, regex, try_without_exe in self._name_rules
            if regex.fullmatch(name) or (try_without_exe and stem != name and regex.fullmatch(stem))
        }
        return plain.union(matched) if matched else plain

    def needs_cmdline(self, name: str) -> bool:
        """Whether a cmd: pattern could match a process of this name, so its command line is
        worth reading."""
        if self.reads_every_cmdline or not self._cmdline_rules:
            return self.reads_every_cmdline
        return _remembered(self._cmdline_memo, name, lambda n: any(
            _name_matches(name_filter, n) for _, _, name_filter in self._cmdline_rules
            if name_filter is not None))

    def match_cmdline(self, cmdline: Sequence[str], name: str | None = None) -> frozenset[str]:
        """Labels whose cmd: patterns match the command line joined with single spaces; with
        ``name``, cmd(NAME): patterns only where the process name matches."""
        # An unreadable command line (kernel threads, other users' processes) comes back empty;
        # it is unknown rather than empty, so not even "cmd:*" claims it.
        if not cmdline or not self._cmdline_rules:
            return _NOTHING
        joined = " ".join(cmdline)
        return frozenset(label for label, regex, name_filter in self._cmdline_rules
                         if (name_filter is None or (name is not None and _name_matches(name_filter, name)))
                         and regex.fullmatch(joined))


def _remembered(memo: dict[str, T], name: str, compute: Callable[[str], T]) -> T:
    value = memo.get(name)
    if value is None:
        value = compute(name)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[name] = value
    return value


def _name_matches(name_glob: re.Pattern[str], name: str) -> bool:
    return bool(name_glob.fullmatch(name) or name_glob.fullmatch(_without_exe(name)))
