"""The wire protocol between hub and nodes (version 1).

Every message is a map with ``"v": 1`` and ``"kind"``. Unknown keys are ignored so newer peers can
add fields; missing or mistyped keys reject the message with a ProtocolError whose ``reason`` is a
short, stable word the hub counts drops by.

Node -> hub (PUSH -> PULL): ``report`` and ``bye``, msgpack by default, JSON accepted (auto-detected
per frame). Hub -> node (XPUB -> SUB): ``config`` and ``ack``, msgpack, one frame each: topic bytes
followed by the body, because ZeroMQ's XPUB welcome message is a single frame.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import msgpack
import msgpack.exceptions

from common.errors import ProcmeshError
from common.timing import DEFAULT_IDLE_AFTER
from common.watchlist import WatchEntry

VERSION = 1
MAX_FRAME_BYTES = 1 << 20
MAX_SESSIONS = 1000
MAX_STRING = 255
# Timestamps outside 2000-01-01 .. 2100-01-01 are a broken clock or a hostile peer, never usage.
MIN_TIMESTAMP = 946_684_800.0
MAX_TIMESTAMP = 4_102_444_800.0
MAX_SEQ = (1 << 63) - 1
# An ack names at most this many reports; older ones' closed sessions travel again in later reports.
MAX_ACK_SEQS = 256

CONFIG_TOPIC = b"cfg\0"
ACK_PREFIX = b"ack\0"

# A session's active or foreground seconds may exceed its length by float rounding, not more.
DURATION_SLACK = 0.01

CODECS = ("msgpack", "json")
REPORT_KINDS = ("report", "bye")


class ProtocolError(ProcmeshError, ValueError):
    """A frame that is not a valid message; ``reason`` is a short word for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class SessionState(NamedTuple):
    """One usage session as a node reports it (a tuple: the hub decodes thousands a second)."""

    sid: bytes
    label: str
    start: float
    end: float
    open: bool
    owner: str | None = None
    # Seconds of the session during which the user was active at the computer, and during which
    # the focused window was one of the label's processes; None: not measured (DESIGN §10).
    active: float | None = None
    foreground: float | None = None


class Report(NamedTuple):
    """A node's state: every open session plus closed ones the hub has not acknowledged yet.

    ``kind == "bye"`` is the last report of a node that stops cleanly: its sessions are closed and
    the hub marks the node offline.
    """

    node: str
    host: str
    user: str
    seq: int
    sent: float
    cfg: str
    agent: str
    os: str
    sessions: tuple[SessionState, ...] = ()
    kind: str = "report"


@dataclass(frozen=True, slots=True)
class Config:
    digest: str
    version: int
    interval: float
    grace: float
    watch: tuple[WatchEntry, ...]
    issued: float
    # Seconds without input after which the user counts as away; hubs of 0.1.0 do not send it.
    idle_after: float = DEFAULT_IDLE_AFTER


@dataclass(frozen=True, slots=True)
class Ack:
    """Reports of one node whose sessions are committed: ``seqs``, the highest being ``seq``."""

    seq: int
    seqs: tuple[int, ...]


@dataclass(slots=True)
class _Fields:
    """Typed access to a decoded map; every failed check names the key."""

    data: dict[str, Any]
    path: str = field(default="")

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise ProtocolError("missing-key", f"{self.path}{key}")
        return self.data[key]

    def string(self, key: str, *, allow_empty: bool = True) -> str:
        return check_string(self.raw(key), f"{self.path}{key}", allow_empty=allow_empty)

    def integer(self, key: str, low: int = 0, high: int = MAX_SEQ) -> int:
        value = self.raw(key)
        if type(value) is not int or not low <= value <= high:
            raise ProtocolError("bad-type", f"{self.path}{key} must be an integer in [{low}, {high}]")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        return check_number(self.raw(key), f"{self.path}{key}", low, high)


def check_string(value: Any, name: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ProtocolError("bad-type", f"{name} must be a string")
    if len(value) > MAX_STRING:
        raise ProtocolError("too-long", f"{name} is longer than {MAX_STRING} characters")
    if not value and not allow_empty:
        raise ProtocolError("bad-value", f"{name} is empty")
    if not value.isascii():
        # JSON can carry lone surrogates (\ud800): no database can store them, and one such row
        # would make every write of the batch it is in fail for ever.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError("bad-value", f"{name} is not valid Unicode") from None
    return value


def check_number(value: Any, name: str, low: float, high: float) -> float:
    if type(value) not in (int, float):
        raise ProtocolError("bad-type", f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        raise ProtocolError("bad-value", f"{name} is out of range") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ProtocolError("bad-value", f"{name} is out of range")
    return number


def check_timestamp(value: Any, name: str) -> float:
    return check_number(value, name, MIN_TIMESTAMP, MAX_TIMESTAMP)


# ---- node -> hub -------------------------------------------------------------------------------

def encode_report(report: Report, codec: str = "msgpack") -> bytes:
    as_json = codec == "json"
    sessions = []
    for s in report.sessions:
        row: list[Any] = [s.sid.hex() if as_json else s.sid, s.label, s.start, s.end, s.open]
        if s.owner is not None:
            row.append(s.owner)
        sessions.append(row)
    body = {
        "v": VERSION, "kind": report.kind, "node": report.node, "host": report.host,
        "user": report.user, "seq": report.seq, "sent": report.sent, "cfg": report.cfg,
        "agent": report.agent, "os": report.os, "sessions": sessions,
    }
    presence = _encode_presence(report.sessions)
    if presence is not None:
        body["presence"] = presence
    if as_json:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return msgpack.packb(body, use_bin_type=True)


def decode_report(frame: bytes) -> Report:
    """Decode and validate one report or bye frame, msgpack or JSON."""
    data = _decode_map(frame)
    fields = _Fields(data)
    _check_version(fields)
    kind = fields.string("kind")
    if kind not in REPORT_KINDS:
        raise ProtocolError("bad-kind", repr(kind))
    node = fields.string("node", allow_empty=False)
    if "\0" in node:
        raise ProtocolError("bad-value", "node must not contain NUL")
    raw_sessions = fields.raw("sessions")
    if not isinstance(raw_sessions, (list, tuple)):
        raise ProtocolError("bad-type", "sessions must be a list")
    if len(raw_sessions) > MAX_SESSIONS:
        raise ProtocolError("too-many-sessions", f"{len(raw_sessions)} > {MAX_SESSIONS}")
    return Report(
        node=node,
        host=fields.string("host"),
        user=fields.string("user"),
        seq=fields.integer("seq"),
        sent=check_timestamp(fields.raw("sent"), "sent"),
        cfg=fields.string("cfg"),
        agent=fields.string("agent"),
        os=fields.string("os"),
        sessions=_with_presence(tuple([_decode_session(row, i) for i, row in enumerate(raw_sessions)]),
                                data.get("presence")),
        kind=kind,
    )


# Active and foreground seconds travel in a list of their own beside ``sessions``, one entry per
# session: ``[active, foreground]`` (each a number or nil) or nil for a session not measured. A hub
# of 0.1.0 rejects session rows longer than 6 elements but ignores keys it does not know, so it
# stores the sessions of a newer node and drops only these values.

def _encode_presence(sessions: Sequence[SessionState]) -> list[list[float | None] | None] | None:
    if all(s.active is None and s.foreground is None for s in sessions):
        return None
    return [None if s.active is None and s.foreground is None else
            [_rounded(s.active), _rounded(s.foreground)] for s in sessions]


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _with_presence(sessions: tuple[SessionState, ...], presence: Any) -> tuple[SessionState, ...]:
    if presence is None:
        return sessions
    if not isinstance(presence, (list, tuple)) or len(presence) != len(sessions):
        raise ProtocolError("bad-presence", "presence must be a list with one entry per session")
    measured = []
    for i, (state, entry) in enumerate(zip(sessions, presence)):
        if entry is None:
            measured.append(state)
            continue
        name = f"presence[{i}]"
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ProtocolError("bad-presence", f"{name} must be [active, foreground] or nil")
        longest = state.end - state.start + DURATION_SLACK
        active, foreground = (None if value is None else check_number(value, name, 0.0, longest)
                              for value in entry)
        if active is not None and foreground is not None and foreground > active + DURATION_SLACK:
            raise ProtocolError("bad-presence", f"{name}: foreground time exceeds active time")
        measured.append(state._replace(active=active, foreground=foreground))
    return tuple(measured)


def _decode_session(row: Any, index: int) -> SessionState:
    # Fast path for the well-formed msgpack rows that make up nearly all traffic; anything else
    # (JSON's hex ids and integer times, or an invalid row) takes the checks below, which name
    # the problem. NaN fails every comparison, so it cannot slip through here.
    if type(row) is list and 5 <= len(row) <= 6:
        sid, label, start, end, is_open = row[:5]
        owner = row[5] if len(row) == 6 else None
        if (type(sid) is bytes and len(sid) == 16 and type(label) is str
                and 0 < len(label) <= MAX_STRING and type(start) is float and type(end) is float
                and MIN_TIMESTAMP <= start <= end <= MAX_TIMESTAMP and type(is_open) is bool
                and (owner is None or (type(owner) is str and len(owner) <= MAX_STRING))):
            return SessionState(sid, label, start, end, is_open, owner)
    name = f"sessions[{index}]"
    if not isinstance(row, (list, tuple)) or len(row) not in (5, 6):
        raise ProtocolError("bad-session", f"{name} must be [sid, label, start, end, open(, owner)]")
    sid = _decode_sid(row[0], name)
    label = check_string(row[1], f"{name}.label", allow_empty=False)
    start = check_timestamp(row[2], f"{name}.start")
    end = check_timestamp(row[3], f"{name}.end")
    if start > end:
        raise ProtocolError("bad-session", f"{name} starts after it ends")
    if type(row[4]) is not bool:
        raise ProtocolError("bad-type", f"{name}.open must be a boolean")
    owner = check_string(row[5], f"{name}.owner") if len(row) == 6 else None
    return SessionState(sid, label, start, end, row[4], owner)


def _decode_sid(value: Any, name: str) -> bytes:
    if isinstance(value, bytes) and len(value) == 16:
        return value
    if isinstance(value, str) and len(value) == 32:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise ProtocolError("bad-session", f"{name}.sid must be 16 bytes (or 32 hex digits in JSON)")


# ---- hub -> node -------------------------------------------------------------------------------

def watch_digest(watch: Sequence[WatchEntry], interval: float, grace: float,
                 idle_after: float = DEFAULT_IDLE_AFTER) -> str:
    """A short stable digest of everything a node applies, so nodes skip configs they hold.

    idle_after counts only when it is not the default: a hub of 0.1.0, which does not send it, and
    a newer one with the same list then publish the same digest, and a node that hears both during
    an upgrade does not apply their configs in turn."""
    applied: list[Any] = [[[e.label, list(e.patterns)] for e in watch], float(interval), float(grace)]
    if float(idle_after) != DEFAULT_IDLE_AFTER:
        applied.append(float(idle_after))
    canonical = json.dumps(applied, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def make_config(watch: Sequence[WatchEntry], interval: float, grace: float, version: int,
                issued: float, idle_after: float = DEFAULT_IDLE_AFTER) -> Config:
    return Config(watch_digest(watch, interval, grace, idle_after), version, float(interval),
                  float(grace), tuple(watch), issued, float(idle_after))


def ack_topic(node: str) -> bytes:
    """Topic of one node's acks; the closing NUL stops node ``pc1`` from matching ``pc10``."""
    return ACK_PREFIX + node.encode("utf-8") + b"\0"


def config_frame(config: Config) -> bytes:
    body = {
        "v": VERSION, "kind": "config", "digest": config.digest, "version": config.version,
        "interval": config.interval, "grace": config.grace, "idle_after": config.idle_after,
        "issued": config.issued,
        "watch": [{"label": e.label, "patterns": list(e.patterns)} for e in config.watch],
    }
    return CONFIG_TOPIC + msgpack.packb(body, use_bin_type=True)


def ack_frame(node: str, seqs: Sequence[int]) -> bytes:
    """An ack naming each committed report, not just the highest: a node that split its state over
    several reports, or reports to several hubs, must not take one committed report for another."""
    seqs = sorted(seqs)[-MAX_ACK_SEQS:]
    return ack_topic(node) + msgpack.packb({"v": VERSION, "kind": "ack", "seq": seqs[-1], "seqs": seqs})


def decode_hub_frame(frame: bytes) -> Config | Ack:
    """Decode a frame a node receives on its SUB socket."""
    if frame.startswith(CONFIG_TOPIC):
        return _decode_config(_decode_map(frame[len(CONFIG_TOPIC):]))
    if frame.startswith(ACK_PREFIX):
        end_of_topic = frame.find(b"\0", len(ACK_PREFIX))
        if end_of_topic < 0:
            raise ProtocolError("bad-topic", "ack topic without its closing NUL")
        fields = _Fields(_decode_map(frame[end_of_topic + 1:]))
        _check_version(fields)
        seq = fields.integer("seq")
        seqs = fields.data.get("seqs", [seq])
        if (not isinstance(seqs, list) or len(seqs) > MAX_ACK_SEQS
                or any(type(s) is not int or not 0 <= s <= MAX_SEQ for s in seqs)):
            raise ProtocolError("bad-type", f"seqs must be a list of at most {MAX_ACK_SEQS} integers")
        return Ack(seq, tuple(seqs))
    raise ProtocolError("bad-topic", repr(frame[:16]))


def _decode_config(data: dict[str, Any]) -> Config:
    fields = _Fields(data)
    _check_version(fields)
    raw_watch = fields.raw("watch")
    if not isinstance(raw_watch, list):
        raise ProtocolError("bad-type", "watch must be a list")
    watch = []
    for i, item in enumerate(raw_watch):
        if not isinstance(item, dict):
            raise ProtocolError("bad-type", f"watch[{i}] must be a map")
        entry = _Fields(item, f"watch[{i}].")
        patterns = entry.raw("patterns")
        if not isinstance(patterns, list) or not patterns:
            raise ProtocolError("bad-type", f"watch[{i}].patterns must be a non-empty list")
        watch.append(WatchEntry(
            entry.string("label", allow_empty=False),
            tuple(check_string(p, f"watch[{i}].patterns", allow_empty=False) for p in patterns),
        ))
    return Config(
        digest=fields.string("digest", allow_empty=False),
        version=fields.integer("version"),
        interval=fields.number("interval", 0.05, 86_400.0),
        grace=fields.number("grace", 0.0, 86_400.0),
        watch=tuple(watch),
        issued=check_timestamp(fields.raw("issued"), "issued"),
        idle_after=(fields.number("idle_after", 0.05, 86_400.0) if "idle_after" in data
                    else DEFAULT_IDLE_AFTER),
    )


# ---- shared decoding ---------------------------------------------------------------------------

def _decode_map(frame: bytes) -> dict[str, Any]:
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError("too-large", f"{len(frame)} bytes")
    try:
        if frame[:1] in (b"{", b" ", b"\n", b"\t", b"\r"):
            data = json.loads(frame, parse_constant=_reject_constant)
        else:
            data = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except ProtocolError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError,
            msgpack.exceptions.UnpackException) as exc:
        raise ProtocolError("undecodable", type(exc).__name__) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad-type", "message must be a map")
    return data


def _reject_constant(name: str) -> None:
    raise ProtocolError("bad-value", f"{name} is not a number")


def _check_version(fields: _Fields) -> None:
    version = fields.raw("v")
    if version != VERSION or type(version) is not int:
        raise ProtocolError("bad-version", repr(version))
