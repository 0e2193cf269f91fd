"""What every presence probe offers: one reading per user at each scan, nothing in between.

A probe answers two questions about a desktop: how long ago the user last gave keyboard or mouse
input (and whether the screen is locked), and which process owns the window with the keyboard
focus. Each operating system answers them differently (one module per system beside this one);
``node.presence.ledger`` turns the readings into active and foreground seconds per session.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

from common.errors import ProcmeshError


@dataclass(frozen=True, slots=True)
class Reading:
    """What a probe saw of one user's desktop at one scan."""

    idle: float                     # seconds since the last keyboard or mouse input
    locked: bool = False            # screen locked or blanked: away, whatever the input says
    focus_measured: bool = False    # False: this desktop does not tell which window has the focus
    focused_pid: int | None = None  # process owning the focused window; None: none, or not known


# Readings by user: None is the user the node runs as; other keys are account names, casefolded,
# as a node with scope = "all" attributes sessions to them. A user missing was not measured.
Readings = Mapping["str | None", Reading]


class ProbeUnavailable(ProcmeshError):
    """This desktop cannot be measured (no display, no extension, no service): one line why."""


class Probe(Protocol):
    """An open connection to what measures the desktop; used only at scan time, by one thread."""

    description: str  # what it reads, for the node's log

    def read(self) -> Readings:
        """Readings of this moment; ProbeUnavailable or OSError when the source went away."""

    def close(self) -> None:
        ...
