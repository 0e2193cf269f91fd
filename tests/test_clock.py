"""ClockOffsets: the hub's estimate of each node's clock error, from report send and receive times."""
from __future__ import annotations

import logging

import pytest

from hub.clock import CONFIRMING_SAMPLES, DOUBTFUL_SKEW, TRUSTED_SKEW, WINDOW, ClockOffsets

T0 = 1_790_000_000.0


@pytest.mark.parametrize("skew", [600.0, -600.0])
def test_a_skewed_clock_is_measured_to_within_the_network_delay(skew) -> None:
    clocks = ClockOffsets()
    for i in range(WINDOW):
        hub_now = T0 + 5 * i
        offset = clocks.observe("pc1", sent=hub_now - skew - 0.003, received=hub_now)
    assert offset == pytest.approx(skew, abs=0.01)


def test_queueing_delay_does_not_move_the_estimate() -> None:
    clocks = ClockOffsets()
    delays = [0.002, 3.0, 2.5, 4.0, 0.004]  # reports that waited in a busy hub's queue
    offsets = [clocks.observe("pc1", T0 + 5 * i + 60.0, T0 + 5 * i + delay)
               for i, delay in enumerate(delays)]
    assert offsets[1:] == [pytest.approx(-60.0 + 0.002)] * 4


def test_small_offsets_are_trusted_as_zero() -> None:
    clocks = ClockOffsets()
    assert clocks.observe("pc1", T0, T0 + TRUSTED_SKEW * 0.9) == 0.0


def test_a_clock_that_jumps_is_followed_within_one_window() -> None:
    clocks = ClockOffsets()
    for i in range(WINDOW):
        clocks.observe("pc1", T0 + 5 * i, T0 + 5 * i + 300.0)
    offsets = [clocks.observe("pc1", T0 + 100 + 5 * i, T0 + 100 + 5 * i) for i in range(WINDOW)]
    assert offsets[0] == 0.0  # the smaller difference wins at once
    for i in range(WINDOW):
        clocks.observe("pc1", T0 + 200 + 5 * i, T0 + 200 + 5 * i + 300.0)
    assert clocks.observe("pc1", T0 + 300, T0 + 600) == pytest.approx(300.0)


def test_nodes_are_measured_separately_and_logged_once(caplog) -> None:
    clocks = ClockOffsets()
    with caplog.at_level(logging.INFO, logger="procmesh.hub"):
        for i in range(3):
            assert clocks.observe("fast", T0 + 5 * i + 600, T0 + 5 * i) == pytest.approx(-600)
            assert clocks.observe("right", T0 + 5 * i, T0 + 5 * i) == 0.0
    [record] = caplog.records
    assert "fast" in record.getMessage() and "600.0 s ahead of" in record.getMessage()


def test_a_node_that_left_is_measured_afresh() -> None:
    clocks = ClockOffsets()
    clocks.observe("pc1", T0, T0 + 60)
    clocks.forget("pc1")
    assert clocks.observe("pc1", T0, T0) == 0.0


def test_a_small_offset_counts_only_once_several_reports_agree() -> None:
    clocks = ClockOffsets()
    skew = DOUBTFUL_SKEW / 2  # as much as a first report may wait in a busy hub's queue
    offsets = [clocks.observe("pc1", T0 + 5 * i, T0 + 5 * i + skew) for i in range(CONFIRMING_SAMPLES)]
    assert offsets == [0.0] * (CONFIRMING_SAMPLES - 1) + [pytest.approx(skew)]


def test_a_first_report_that_only_waited_in_the_queue_is_not_taken_for_skew() -> None:
    clocks = ClockOffsets()
    assert clocks.observe("pc1", T0, T0 + 3.0) == 0.0  # waited 3 s behind a backlog
    assert clocks.observe("pc1", T0 + 5, T0 + 5.002) == 0.0
    assert clocks.observe("pc1", T0 + 10, T0 + 10.002) == 0.0
