"""labs.txt (computer names -> lab) and licenses.txt (label -> licences owned), read at query time.

Both use the watch list's syntax (common/watchlist.py): one entry a line, `#` comments, UTF-8 with
or without BOM, `Name = pattern, pattern`, and an error names the file and the line.

    Lab 101 = lab101-*, LAB101-PC??        computer names: plain, glob or re:, in any case
    MATLAB = 25                            a watched label and the licences owned for it
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.watchlist import Matcher, WatchListError, parse_numbered, read_list_file

from .base import AnswerError

NO_LAB = "-"


@dataclass(frozen=True)
class Labs:
    """Which lab each computer is in; a computer that no line names is in lab ``-``."""
    source: str
    lines: dict[str, int]        # lab -> its line in the file
    _matcher: Matcher

    def lab_of(self, computer: str) -> str:
        labs = sorted(self._matcher.match_name(computer), key=self.lines.__getitem__)
        if len(labs) > 1:
            first, second = labs[:2]
            raise AnswerError(f"{self.source}: computer {computer!r} is in two labs: {first!r} "
                              f"(line {self.lines[first]}) and {second!r} (line {self.lines[second]})")
        return labs[0] if labs else NO_LAB

    @property
    def names(self) -> list[str]:
        return sorted(self.lines, key=self.lines.__getitem__)


NO_LABS = Labs("labs", {}, Matcher([]))


def parse_labs(text: str, source: str = "labs.txt") -> Labs:
    numbered = _numbered(text, source)
    for number, entry in numbered:
        if entry.label == NO_LAB:
            raise AnswerError(f"{source}: line {number}: {NO_LAB!r} is the lab of computers in no lab")
        if any(pattern.startswith("cmd:") for pattern in entry.patterns):
            raise AnswerError(f"{source}: line {number}: cmd: matches command lines, not computer names")
    return Labs(source, {entry.label: number for number, entry in numbered},
                Matcher([entry for _, entry in numbered]))


def parse_licenses(text: str, source: str = "licenses.txt") -> dict[str, int]:
    """Licences owned per label, keyed by the label in lower case (labels are unique in any case)."""
    owned: dict[str, int] = {}
    for number, entry in _numbered(text, source):
        count = entry.patterns[0]
        if len(entry.patterns) != 1 or entry.label == count or not count.isdigit():
            raise AnswerError(f"{source}: line {number}: write LABEL = NUMBER, the licences owned "
                              f"(e.g. MATLAB = 25)")
        owned[entry.label.casefold()] = int(count)
    return owned


def load_labs(path: Path, required: bool) -> Labs:
    """labs.txt at path; a missing optional file puts every computer in lab ``-``."""
    text = _read(path, "labs file", required)
    return NO_LABS if text is None else parse_labs(text, str(path))


def load_licenses(path: Path, required: bool) -> dict[str, int]:
    text = _read(path, "licenses file", required)
    return {} if text is None else parse_licenses(text, str(path))


def _read(path: Path, what: str, required: bool) -> str | None:
    if not required and not path.exists():
        return None
    try:
        return read_list_file(path, what)
    except WatchListError as exc:
        raise AnswerError(str(exc)) from None


def _numbered(text: str, source: str) -> list:
    try:
        return parse_numbered(text)
    except WatchListError as exc:
        raise AnswerError(f"{source}: {exc}") from None
