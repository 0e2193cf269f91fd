"""The rule tying a watch list's scan interval to its grace, checked on both sides of the wire, and
the default time without input after which a user counts as away.

A node closes a session when its program is unseen for more than ``grace`` seconds, and closes every
session when two of its scans are more than ``grace`` apart (a suspend, a frozen node). Scans come
every ``interval`` seconds, a little late now and then, so a grace under two intervals would split
sessions at random and store one row per scan or two.
"""
from __future__ import annotations

GRACE_IN_INTERVALS = 2
# Seconds without keyboard or mouse input after which the user counts as away (idle_after).
DEFAULT_IDLE_AFTER = 300.0


def grace_problem(interval: float, grace: float) -> str | None:
    """Why this pair cannot be used, in one line; None when it can."""
    if grace < GRACE_IN_INTERVALS * interval:
        return (f"grace {grace:g} s is less than twice the interval {interval:g} s, so one late scan "
                f"would split a session: use a grace of at least {GRACE_IN_INTERVALS * interval:g} s")
    return None
