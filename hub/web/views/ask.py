"""The dashboard's way into hub.answers: the same questions as ``procmesh-hub report``, with the
page's filters applied to the answer's own grouping keys.

A filter on a lab, computer, program or user adds that key to the question and keeps the rows
that match; the rows are then summed over the added keys. That sum is exact for seat time, which
is a sum over nodes, and a node (one user on one computer) belongs to one lab, one computer and one
user; a program filter keeps a single program, so nothing is summed across programs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from hub.answer_commands import labs_of
from hub.answers import NO_LABS, UsageRow, Window, usage
from hub.storage import Storage
from hub.web.page import Query

if TYPE_CHECKING:
    from hub.web.app import WebContext

FILTERS = {"lab": "lab", "computer": "computer", "program": "process", "user": "user"}


# A node is one user on one computer, in one lab: answers per node can be summed into each of these.
NODE_KEYS = ("lab", "computer", "user")


def ask(storage: Storage, ctx: WebContext, query: Query, by: Sequence[str]) -> list[UsageRow]:
    """usage() grouped by ``by`` over the query's window, with its filters applied."""
    rows, keys = _filtered(storage, ctx, query, by)
    return _summed(rows, keys, by) if keys != list(by) else rows


def ask_per_node(storage: Storage, ctx: WebContext, query: Query) -> dict[str, list[UsageRow]]:
    """The answers per lab, per computer and per user (NODE_KEYS) from one question per node.

    Seat time, sessions, first start and last end of a lab, a computer or a user are sums (or the
    extremes) over its nodes, so one question grouped by node serves all three, at the cost of one.
    """
    rows, keys = _filtered(storage, ctx, query, NODE_KEYS)
    return {name: _summed(rows, keys, [name]) for name in NODE_KEYS}


def _filtered(storage: Storage, ctx: WebContext, query: Query,
              by: Sequence[str]) -> tuple[list[UsageRow], list[str]]:
    """The rows grouped by ``by`` and by every filtered key, those that match the filters."""
    wanted = {FILTERS[name]: getattr(query, name) for name in FILTERS if getattr(query, name)}
    keys = [*by, *(key for key in wanted if key not in by)]
    labs = labs_of(ctx.settings) if "lab" in keys else NO_LABS
    rows = usage(storage, keys, Window(*query.bounds(ctx.zone)), ctx.zone, ctx.clock(), labs)
    return [row for row in rows if all(row.key[keys.index(k)] == v for k, v in wanted.items())], keys


def _summed(rows: list[UsageRow], keys: Sequence[str], by: Sequence[str]) -> list[UsageRow]:
    """Rows grouped by ``keys`` summed into rows grouped by ``by``, a part of them."""
    index = [list(keys).index(key) for key in by]
    totals: dict[tuple[str, ...], UsageRow] = {}
    for row in rows:
        key = tuple(row.key[i] for i in index)
        seen = totals.get(key)
        totals[key] = UsageRow(key, row.sessions, row.seconds, row.program_seconds, row.first, row.last,
                               row.active, row.foreground) if seen is None else UsageRow(
            key, seen.sessions + row.sessions, seen.seconds + row.seconds,
            seen.program_seconds + row.program_seconds, min(seen.first, row.first), max(seen.last, row.last),
            _plus(seen.active, row.active), _plus(seen.foreground, row.foreground))
    return sorted(totals.values(), key=lambda r: (-r.seconds, r.key))


def _plus(a: float | None, b: float | None) -> float | None:
    """A sum of measured seconds: unmeasured (None) only where neither was measured."""
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)
