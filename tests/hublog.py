"""Reading a hub's log: when each line was written, and the traffic summaries it logs."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# common/logs.py's format starts with logging's asctime: local time, milliseconds after a comma.
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_SUMMARY = re.compile(r": (\d+) reports received; (\d+) nodes heard from in the last [\d.e+]+ s; "
                      r"reports dropped: (.*)$")


def timed_lines(log: str, text: str) -> list[tuple[float, str]]:
    """The lines containing ``text``, each with the time it was logged (seconds since the epoch)."""
    found = []
    for line in log.splitlines():
        stamp = _STAMP.match(line)
        if stamp and text in line:
            found.append((datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp(), line))
    return found


def first_time(log: str, text: str) -> float:
    lines = timed_lines(log, text)
    assert lines, f"{text!r} not in the log"
    return lines[0][0]


@dataclass(frozen=True)
class Summary:
    reports: int
    nodes: int
    drops: dict[str, int]


def summaries(log: str) -> list[Summary]:
    """Every traffic summary (once a minute, and at stop), in order."""
    result = []
    for line in log.splitlines():
        match = _SUMMARY.search(line)
        if match:
            drops = {} if match.group(3) == "none" else {
                reason: int(count) for reason, count in
                (part.rsplit(" ", 1) for part in match.group(3).split(", "))}
            result.append(Summary(int(match.group(1)), int(match.group(2)), drops))
    return result
