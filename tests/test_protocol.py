"""Wire protocol: round trips in both codecs, and every kind of rejection."""
from __future__ import annotations

import json
import math

import msgpack
import pytest

from common.ids import new_sid
from common.protocol import (MAX_ACK_SEQS, MAX_SESSIONS, Ack, Config, ProtocolError, Report,
                             SessionState, ack_frame, ack_topic, config_frame, decode_hub_frame,
                             decode_report, encode_report, make_config, watch_digest)
from common.watchlist import WatchEntry

NOW = 1_790_000_000.0


def a_report(count: int = 2, **changes: object) -> Report:
    states = tuple(SessionState(new_sid(), f"app{i}", NOW - 60, NOW, i % 2 == 0) for i in range(count))
    fields = dict(node="pc1/alice", host="pc1", user="alice", seq=7, sent=NOW, cfg="abcd",
                  agent="procmesh-node 0.1.0", os="Linux 6.1", sessions=states, kind="report")
    fields.update(changes)
    return Report(**fields)  # type: ignore[arg-type]


def body_of(report: Report) -> dict:
    return msgpack.unpackb(encode_report(report))


@pytest.mark.parametrize("codec", ["msgpack", "json"])
def test_report_round_trips(codec: str) -> None:
    report = a_report(3)
    assert decode_report(encode_report(report, codec)) == report


def test_owner_travels_as_sixth_element() -> None:
    state = SessionState(new_sid(), "chrome", NOW - 5, NOW, True, "bob")
    report = a_report(0, sessions=(state,))
    assert body_of(report)["sessions"][0][5] == "bob"
    assert decode_report(encode_report(report)).sessions[0].owner == "bob"


def test_bye_round_trips() -> None:
    assert decode_report(encode_report(a_report(1, kind="bye"))).kind == "bye"


def test_json_from_another_language_is_accepted_and_unknown_keys_ignored() -> None:
    sid = new_sid()
    text = json.dumps({"v": 1, "kind": "report", "node": "lab-3", "host": "lab-3", "user": "u",
                       "seq": 1, "sent": NOW, "cfg": "", "agent": "script", "os": "Windows 11",
                       "future_field": {"x": 1},
                       "sessions": [[sid.hex(), "Office", NOW - 10, NOW, True]]})
    report = decode_report(text.encode())
    assert report.sessions[0].sid == sid
    assert report.sessions[0].label == "Office"


def mutate(change) -> bytes:
    body = body_of(a_report(1))
    change(body)
    return msgpack.packb(body, use_bin_type=True)


REJECTIONS = {
    "missing key": (lambda b: b.pop("node"), "missing-key"),
    "wrong version": (lambda b: b.update(v=2), "bad-version"),
    "bool as version": (lambda b: b.update(v=True), "bad-version"),
    "unknown kind": (lambda b: b.update(kind="hello"), "bad-kind"),
    "seq as string": (lambda b: b.update(seq="7"), "bad-type"),
    "negative seq": (lambda b: b.update(seq=-1), "bad-type"),
    "huge seq": (lambda b: b.update(seq=2**64 - 1), "bad-type"),
    "sent infinite": (lambda b: b.update(sent=math.inf), "bad-value"),
    "sent NaN": (lambda b: b.update(sent=math.nan), "bad-value"),
    "sent in 1970": (lambda b: b.update(sent=0), "bad-value"),
    "long host": (lambda b: b.update(host="h" * 256), "too-long"),
    "empty node": (lambda b: b.update(node=""), "bad-value"),
    "NUL in node": (lambda b: b.update(node="pc\0x"), "bad-value"),
    "sessions not a list": (lambda b: b.update(sessions={}), "bad-type"),
    "too many sessions": (lambda b: b.update(sessions=b["sessions"] * (MAX_SESSIONS + 1)),
                          "too-many-sessions"),
    "short session": (lambda b: b["sessions"][0].pop(), "bad-session"),
    "bad sid": (lambda b: b["sessions"][0].__setitem__(0, b"short"), "bad-session"),
    "start after end": (lambda b: b["sessions"][0].__setitem__(2, NOW + 10), "bad-session"),
    "open not bool": (lambda b: b["sessions"][0].__setitem__(4, 1), "bad-type"),
    "empty label": (lambda b: b["sessions"][0].__setitem__(1, ""), "bad-value"),
}


@pytest.mark.parametrize("name", sorted(REJECTIONS))
def test_invalid_reports_are_rejected_with_a_reason(name: str) -> None:
    change, reason = REJECTIONS[name]
    with pytest.raises(ProtocolError) as caught:
        decode_report(mutate(change))
    assert caught.value.reason == reason


@pytest.mark.parametrize("frame, reason", [
    (b"\xc1", "undecodable"),
    (b"{not json", "undecodable"),
    (b'{"v": 1, "sent": NaN}', "bad-value"),
    (msgpack.packb([1, 2, 3]), "bad-type"),
    (b"\x91" * 100_000, "undecodable"),           # nesting deeper than the decoder allows
    (b"[" * 100_000, "undecodable"),              # the same in JSON
    (b"x" * (2 << 20), "too-large"),
    (b"", "undecodable"),
])
def test_garbage_frames_are_rejected(frame: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_report(frame)
    assert caught.value.reason == reason


def test_config_round_trips_through_its_topic() -> None:
    watch = [WatchEntry("chrome", ("chrome",)), WatchEntry("Office", ("winword", "excel"))]
    config = make_config(watch, 5.0, 30.0, 3, NOW)
    decoded = decode_hub_frame(config_frame(config))
    assert isinstance(decoded, Config)
    assert decoded == config


def test_digest_depends_on_everything_a_node_applies() -> None:
    watch = [WatchEntry("chrome", ("chrome",))]
    base = watch_digest(watch, 5.0, 30.0)
    assert base == watch_digest(list(watch), 5, 30)
    assert base != watch_digest(watch, 2.0, 30.0)
    assert base != watch_digest(watch, 5.0, 10.0)
    assert base != watch_digest([WatchEntry("chrome", ("chrome*",))], 5.0, 30.0)


def test_ack_round_trips_and_topics_do_not_prefix_each_other() -> None:
    frame = ack_frame("pc1", [42, 40])
    assert decode_hub_frame(frame) == Ack(42, (40, 42))
    assert frame.startswith(ack_topic("pc1"))
    assert not frame.startswith(ack_topic("pc10"))
    assert not ack_frame("pc10", [1]).startswith(ack_topic("pc1"))


def test_ack_names_only_the_latest_reports() -> None:
    ack = decode_hub_frame(ack_frame("pc1", range(1000)))
    assert ack.seq == 999 and ack.seqs == tuple(range(1000 - MAX_ACK_SEQS, 1000))


def test_ack_without_a_list_covers_its_one_report() -> None:
    frame = ack_topic("pc1") + msgpack.packb({"v": 1, "kind": "ack", "seq": 7})
    assert decode_hub_frame(frame) == Ack(7, (7,))


@pytest.mark.parametrize("seqs", [7, ["7"], [-1], list(range(MAX_ACK_SEQS + 1))])
def test_ack_with_a_malformed_list_is_rejected(seqs) -> None:
    frame = ack_topic("pc1") + msgpack.packb({"v": 1, "kind": "ack", "seq": 7, "seqs": seqs})
    with pytest.raises(ProtocolError):
        decode_hub_frame(frame)


def test_unknown_topic_is_rejected() -> None:
    with pytest.raises(ProtocolError):
        decode_hub_frame(b"zzz\0" + msgpack.packb({"v": 1}))
