"""The node's clocks: which gaps between two scans were watched, and the time-asleep counters.

The Windows and macOS counters are ctypes calls that only run on those systems; their arithmetic is
checked here with counter values as those systems give them.
"""
from __future__ import annotations

import sys
import time

import pytest

from node import asleep_macos, asleep_windows
from node.clock import ASLEEP_NOISE, Clock, Reading, watched_between

GRACE = 30.0


@pytest.mark.parametrize("later, watched", [
    (Reading(130.0, 1030.0, 5.0), True),                 # exactly grace apart
    (Reading(130.5, 1030.5, 5.0), False),                # more than grace
    (Reading(110.0, 1002.0, 13.0), False),               # 8 s asleep
    (Reading(105.0, 1005.0, 5.0 + ASLEEP_NOISE), True),  # reading noise
    (Reading(160.0, 1005.0, 5.0), False),                # wall clock set forward a minute
    (Reading(90.0, 1040.0, 5.0), False),                 # frozen 40 s, wall clock set back
    (Reading(110.0, 1002.0, None), True),                # time asleep unknown
])
def test_a_gap_is_watched_only_within_grace_on_both_clocks_and_awake(later: Reading, watched: bool) -> None:
    assert watched_between(Reading(100.0, 1000.0, 5.0), later, GRACE) is watched


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's counter")
def test_on_linux_time_asleep_is_boottime_minus_monotonic() -> None:
    asleep = Clock().asleep()
    expected = time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)
    assert asleep is not None and abs(asleep - expected) < ASLEEP_NOISE


def test_windows_time_asleep_is_interrupt_time_minus_unbiased_interrupt_time() -> None:
    # Units of 100 ns: 3 days since boot, 2 hours and a half of it asleep.
    boot_to_now = 3 * 86_400 * 10_000_000
    asleep = 9_000 * 10_000_000
    assert asleep_windows.asleep_seconds(boot_to_now, boot_to_now - asleep) == 9_000.0


@pytest.mark.parametrize("numer, denom", [(125, 3), (1, 1)])  # Apple silicon, Intel
def test_macos_time_asleep_is_continuous_minus_absolute_time_in_nanoseconds(numer: int, denom: int) -> None:
    ticks_asleep = 600 * 10**9 * denom // numer  # ten minutes
    absolute = 10**15
    assert asleep_macos.asleep_seconds(absolute + ticks_asleep, absolute, numer, denom) == pytest.approx(600.0)


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the call exists there")
def test_where_a_call_does_not_exist_there_is_no_counter_rather_than_an_error() -> None:
    assert asleep_windows.counter() is None
    assert asleep_macos.counter() is None
