"""Unused and silent: watched programs nobody ran for N days, and nodes not heard from for as long."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from common.watchlist import WatchListError, load_watchlist
from hub.answers.inventory import unused
from hub.storage import Storage
from hub.web.page import PageView, Query
from hub.web.table import NODE, TIME, USER, Column, Table

if TYPE_CHECKING:
    from hub.web.app import WebContext


def build(storage: Storage, query: Query, ctx: WebContext) -> PageView:
    notes = []
    try:
        labels = [entry.label for entry in load_watchlist(Path(ctx.settings["watch"]).expanduser())]
    except WatchListError as exc:
        labels, notes = [], [f"The watch list cannot be read, so no program is listed: {exc}"]
    quiet, silent = unused(storage, labels, query.days, ctx.zone, ctx.clock())
    programs = Table([Column("Program", key="process"), Column("Last used", TIME, "last_used")],
                     name="programs", title="Programs not used",
                     empty=f"every watched program ran in the last {query.days} days")
    programs.rows = [[label.process, label.last_used if label.last_used is not None else "never"]
                     for label in quiet]
    nodes = Table([Column("Computer"), Column("User", USER), Column("Node", NODE),
                   Column("Last seen", TIME, "last_seen"), Column("Agent")], name="nodes",
                  title="Nodes silent", empty=f"every node reported in the last {query.days} days")
    nodes.rows = [[n.computer, n.user, n.node, n.last_seen, n.agent] for n in silent]
    notes.append(f"Programs of the current watch list without a session in the last {query.days} days, "
                 "and nodes not heard from for as long: software to drop, desktops to look after.")
    return PageView([programs, nodes], notes=notes)
