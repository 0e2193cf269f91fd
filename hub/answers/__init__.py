"""The questions procmesh answers, as plain functions over a storage, for the command line and the
web dashboard alike.

Each function takes an open ``hub.storage.Storage`` (its own connection: the hub's writer keeps
its own) and parameters, and returns a list of typed rows; nothing here prints or parses flags.
Times are epoch seconds; local periods are computed in the ``zoneinfo.ZoneInfo`` given.

    usage(storage, by, window, zone, now, labs=, top=)  -> [UsageRow]    seat time and program time
    grouping("lab,day")                                  -> ["lab", "day"] a checked --by
    node_states(storage, now, fallback_interval)         -> [NodeState]   online/offline per node

Inputs: ``load_labs``/``parse_labs`` (labs.txt) and ``load_licenses``/``parse_licenses``
(licenses.txt). Mistakes a person can make raise ``AnswerError`` (one line).
"""
from __future__ import annotations

from .base import AnswerError, Window
from .labs import NO_LAB, NO_LABS, Labs, load_labs, load_licenses, parse_labs, parse_licenses
from .periods import PERIODS
from .usage import KEYS, UsageRow, grouping, usage

__all__ = ["AnswerError", "KEYS", "Labs", "NO_LAB", "NO_LABS", "PERIODS", "UsageRow", "Window",
           "grouping", "load_labs", "load_licenses", "parse_labs", "parse_licenses", "usage"]
