"""Active and foreground seconds on the wire, and peers of release 0.1.0 in both directions."""
from __future__ import annotations

import re

import msgpack
import pytest

import tests.protocol_0_1_0 as previous
from common.ids import new_sid
from common.protocol import (ProtocolError, Report, SessionState, config_frame, decode_hub_frame,
                             decode_report, encode_report, make_config)
from common.watchlist import WatchEntry

NOW = 1_790_000_000.0
WATCH = [WatchEntry("chrome", ("chrome",)), WatchEntry("Office", ("winword", "excel"))]


def a_report(*sessions: SessionState) -> Report:
    return Report("pc1/alice", "pc1", "alice", 7, NOW, "abcd", "procmesh-node 0.2.0", "Linux 6.1",
                  tuple(sessions))


def measured(active: float | None, foreground: float | None, owner: str | None = None) -> SessionState:
    return SessionState(new_sid(), "chrome", NOW - 60, NOW, True, owner, active, foreground)


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_active_and_foreground_seconds_round_trip(codec: str) -> None:
    report = a_report(measured(42.5, 12.25), measured(None, None), measured(30.0, None, "bob"))
    assert decode_report(encode_report(report, codec)) == report


def test_they_travel_beside_the_session_rows_which_keep_their_length() -> None:
    report = a_report(measured(42.5, 12.25), measured(None, None))
    body = msgpack.unpackb(encode_report(report))
    assert [len(row) for row in body["sessions"]] == [5, 5]
    assert body["presence"] == [[42.5, 12.25], None]


def test_a_report_with_nothing_measured_is_what_release_0_1_0_sent() -> None:
    sid = new_sid()
    new = a_report(SessionState(sid, "chrome", NOW - 60, NOW, True))
    old = previous.Report(*new[:8], sessions=(previous.SessionState(sid, "chrome", NOW - 60, NOW, True),))
    for codec in ("msgpack", "json"):
        assert encode_report(new, codec) == previous.encode_report(old, codec)


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_a_hub_of_release_0_1_0_stores_the_sessions_of_a_newer_node(codec: str) -> None:
    report = a_report(measured(42.5, 12.25), measured(None, None, "bob"))
    decoded = previous.decode_report(encode_report(report, codec))
    # Every session arrives whole; only the new values are left behind.
    assert [tuple(s) for s in decoded.sessions] == [tuple(s)[:6] for s in report.sessions]


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_a_node_of_release_0_1_0_reports_sessions_not_measured(codec: str) -> None:
    old = previous.Report("pc1/alice", "pc1", "alice", 7, NOW, "abcd", "procmesh-node 0.1.0", "Linux",
                          (previous.SessionState(new_sid(), "chrome", NOW - 60, NOW, True, "bob"),))
    decoded = decode_report(previous.encode_report(old, codec))
    assert tuple(decoded.sessions[0]) == (*old.sessions[0], None, None)


def with_presence(presence: object, start: float = NOW - 60) -> bytes:
    body = msgpack.unpackb(encode_report(a_report(SessionState(new_sid(), "chrome", start, NOW, True))))
    body["presence"] = presence
    return msgpack.packb(body)


@pytest.mark.parametrize("presence, why", [
    ([], "one entry per session"),
    ([None, None], "one entry per session"),
    ({"0": [1.0, 1.0]}, "one entry per session"),
    ([[1.0]], "[active, foreground] or nil"),
    ([7.0], "[active, foreground] or nil"),
    ([["1", 1.0]], "must be a number"),
    ([[True, 1.0]], "must be a number"),
    ([[-1.0, None]], "out of range"),
    ([[61.0, None]], "out of range"),
    ([[None, 1e300]], "out of range"),
    ([[10.0, 20.0]], "foreground time exceeds active time"),
])
def test_impossible_values_reject_the_report(presence: object, why: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(why)):
        decode_report(with_presence(presence))


def test_json_nan_is_rejected() -> None:
    text = encode_report(a_report(measured(1.0, 1.0)), "json").replace(b"[1.0,1.0]", b"[NaN,1.0]")
    with pytest.raises(ProtocolError):
        decode_report(text)


def test_values_as_long_as_the_session_are_accepted() -> None:
    report = decode_report(with_presence([[60.0, 60.0]]))
    assert (report.sessions[0].active, report.sessions[0].foreground) == (60.0, 60.0)


def test_idle_after_travels_in_the_config() -> None:
    config = make_config(WATCH, 5.0, 30.0, 3, NOW, idle_after=120.0)
    assert decode_hub_frame(config_frame(config)) == config


def test_a_config_of_release_0_1_0_means_the_default_idle_after() -> None:
    frame = previous.config_frame(previous.make_config(WATCH, 5.0, 30.0, 3, NOW))
    assert decode_hub_frame(frame).idle_after == 300.0


def test_a_node_of_release_0_1_0_takes_a_newer_config() -> None:
    config = make_config(WATCH, 5.0, 30.0, 3, NOW, idle_after=120.0)
    old = previous.decode_hub_frame(config_frame(config))
    assert (old.digest, old.watch, old.interval, old.grace) == (config.digest, config.watch, 5.0, 30.0)


def test_the_digest_changes_with_idle_after_and_is_unchanged_at_the_default() -> None:
    default = make_config(WATCH, 5.0, 30.0, 3, NOW)
    assert default.digest == previous.make_config(WATCH, 5.0, 30.0, 3, NOW).digest
    assert make_config(WATCH, 5.0, 30.0, 3, NOW, idle_after=120.0).digest != default.digest
