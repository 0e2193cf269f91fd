"""Now: a seat board per lab (free, in use, offline) and what each computer runs, refreshing by itself."""
from __future__ import annotations

from typing import TYPE_CHECKING

from hub.answer_commands import labs_of
from hub.answers.inventory import LabSeats, running_now
from hub.answers.status import node_states
from hub.storage import Storage
from hub.web.page import LabBoard, PageView, Query, Seat
from hub.web.table import NUMBER, SECONDS, TIME, USER, Column, Table

if TYPE_CHECKING:
    from hub.web.app import WebContext

# The page reloads itself every report interval, but not more often than this.
MIN_REFRESH_SECONDS = 2.0


def build(storage: Storage, query: Query, ctx: WebContext) -> PageView:
    labs = labs_of(ctx.settings)
    now, interval = ctx.clock(), ctx.settings["interval"]
    running, lab_seats = running_now(storage, now, interval, labs)
    # Computers whose nodes are all offline still get a tile: a seat that is switched off.
    states = node_states(storage, now, interval)
    online_computers = {s.node.computer for s in states if s.online}
    computers = {s.node.computer for s in states}
    programs: dict[str, set[str]] = {}
    for r in running:
        programs.setdefault(r.computer, set()).add(r.process)
    board: dict[str, list[Seat]] = {}
    for computer in sorted(computers):
        state = ("in use" if computer in programs else "free") if computer in online_computers else "offline"
        board.setdefault(labs.lab_of(computer), []).append(
            Seat(computer, state, tuple(sorted(programs.get(computer, ())))))
    counts = {s.lab: s for s in lab_seats}
    none = LabSeats("", 0, 0, 0)   # a lab whose computers are all offline
    boards = [LabBoard(lab, seats.online, seats.in_use, seats.free, tuple(tiles))
              for lab, tiles in sorted(board.items()) if not query.lab or lab == query.lab
              for seats in [counts.get(lab, none)]]

    per_lab = Table([Column("Lab"), Column("Online", NUMBER), Column("In use", NUMBER, "in_use"),
                     Column("Free", NUMBER), Column("Offline", NUMBER)], name="labs", title="Per lab",
                    empty="no computer has reported yet: start procmesh-node on a desktop")
    per_lab.rows = [[b.name, b.online, b.in_use, b.free, sum(1 for s in b.seats if s.state == "offline")]
                    for b in boards]
    runs = Table([Column("Lab"), Column("Computer"), Column("User", USER), Column("Program", key="process"),
                  Column("Since", TIME), Column("For", SECONDS, "seconds")], name="running",
                 title="Running now", empty="no watched program runs on an online computer")
    runs.rows = [[r.lab, r.computer, r.user, r.process, r.since, now - r.since] for r in running
                 if not query.lab or r.lab == query.lab]
    return PageView([per_lab, runs], board=boards, refresh=max(interval, MIN_REFRESH_SECONDS))
