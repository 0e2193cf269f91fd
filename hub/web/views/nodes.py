"""Nodes: every desktop that reported, online or not, and whether it applies the current watch list."""
from __future__ import annotations

from typing import TYPE_CHECKING

from common.protocol import watch_digest
from common.watchlist import WatchListError, load_watchlist
from hub.answers.status import OFFLINE_AFTER_INTERVALS, node_states
from hub.storage import Storage
from hub.web.page import PageView, Query
from hub.web.table import NODE, TIME, USER, Column, Table

if TYPE_CHECKING:
    from hub.web.app import WebContext



def build(storage: Storage, _query: Query, ctx: WebContext) -> PageView:
    states = node_states(storage, ctx.clock(), ctx.settings["interval"])
    current = current_digest(ctx.settings)
    table = Table([Column("Computer"), Column("User", USER), Column("Node", NODE), Column("State"),
                   Column("Last seen", TIME, "last_seen"), Column("Agent"), Column("Platform"),
                   Column("Address"), Column("Watch list", key="watch_list_digest"),
                   Column("Watch list state", key="watch_list_state")], name="nodes",
                  empty="no node has reported yet: start procmesh-node on a desktop")
    for n, online in ((s.node, s.online) for s in states):
        state = "" if current is None or not n.cfg else ("current" if n.cfg == current else "older")
        table.rows.append([n.computer, n.user, n.node, "online" if online else "offline", n.last_seen,
                           n.agent, n.platform, n.client_ip, n.cfg, state])
    # What needs a look first: offline nodes and nodes behind on the watch list.
    table.rows.sort(key=lambda row: (row[3] == "online", row[-1] != "older"))
    online_count = sum(1 for row in table.rows if row[3] == "online")
    notes = [f"{online_count} of {len(table.rows)} nodes online; a node is offline after it said goodbye "
             f"or missed {OFFLINE_AFTER_INTERVALS} of its report intervals."]
    return PageView([table], notes=notes)


def current_digest(settings: dict) -> str | None:
    """The digest nodes hold once they apply the watch list in force (None while it does not parse)."""
    try:
        return watch_digest(load_watchlist(settings["watch"]), settings["interval"], settings["grace"])
    except WatchListError:
        return None
