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


def ask(storage: Storage, ctx: WebContext, query: Query, by: Sequence[str]) -> list[UsageRow]:
    """usage() grouped by ``by`` over the query's window, with its filters applied."""
    wanted = {FILTERS[name]: getattr(query, name) for name in FILTERS if getattr(query, name)}
    extra = [key for key in wanted if key not in by]
    keys = [*by, *extra]
    labs = labs_of(ctx.settings) if "lab" in keys else NO_LABS
    rows = usage(storage, keys, Window(*query.bounds(ctx.zone)), ctx.zone, ctx.clock(), labs)
    kept = [row for row in rows if all(row.key[keys.index(k)] == v for k, v in wanted.items())]
    return _summed(kept, len(by)) if extra else kept


def _summed(rows: list[UsageRow], width: int) -> list[UsageRow]:
    totals: dict[tuple[str, ...], UsageRow] = {}
    for row in rows:
        key = row.key[:width]
        seen = totals.get(key)
        totals[key] = row if seen is None else UsageRow(
            key, seen.sessions + row.sessions, seen.seconds + row.seconds,
            seen.program_seconds + row.program_seconds, min(seen.first, row.first), max(seen.last, row.last))
    for key, row in totals.items():
        if row.key != key:
            totals[key] = UsageRow(key, row.sessions, row.seconds, row.program_seconds, row.first, row.last)
    return sorted(totals.values(), key=lambda r: (-r.seconds, r.key))
