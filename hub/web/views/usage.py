"""Usage: time per program over a range as a stacked daily chart, and per program, lab, computer and user."""
from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

from hub.answers import UsageRow
from hub.storage import Storage
from hub.web.charts import Series, colour, stacked_bars, time_unit
from hub.web.page import PageView, Query
from hub.web.table import NUMBER, SECONDS, TIME, USER, Column, Table, duration
from hub.web.views.ask import ask, ask_per_node

if TYPE_CHECKING:
    from hub.web.app import WebContext

CHART_SERIES = 8   # the biggest programs get a colour each; the rest are stacked as "other"
TITLES = {"program": "Program", "lab": "Lab", "computer": "Computer", "user": "User"}


def build(storage: Storage, query: Query, ctx: WebContext) -> PageView:
    daily = ask(storage, ctx, query, ["day", "process"])
    chart, legend = _chart(daily, query)
    answers = {"program": ask(storage, ctx, query, ["process"]),
               **ask_per_node(storage, ctx, query)}
    # Seat time adds up over computers (each user on each computer counts once), not over programs.
    total = sum(row.seconds for row in answers["computer"])
    notes = [f"Time is seat time: for each user on each computer, how long any watched program of the "
             f"row ran. {duration(total)} (h:mm) in all over {len(query.days_between())} days."]
    return PageView([_table(name, rows) for name, rows in answers.items()], chart, legend, notes)


def _table(name: str, rows: list[UsageRow]) -> Table:
    title = TITLES[name]
    total = sum(row.seconds for row in rows) or 1.0
    table = Table([Column(title, USER if name == "user" else "text", name), Column("Time", SECONDS, "seconds"),
                   Column("Share %", NUMBER, "share_percent"), Column("Sessions", NUMBER, "sessions"),
                   Column("First start", TIME, "first_start"), Column("Last end", TIME, "last_end")],
                  name=name, title=f"Per {name}")
    table.rows = [[row.key[0], row.seconds, round(100 * row.seconds / total, 1), row.sessions, row.first,
                   row.last] for row in rows]
    return table


def _chart(daily: list[UsageRow], query: Query) -> tuple[Markup | None, list[tuple[str, str]]]:
    if not daily:
        return None, []
    per_program: dict[str, float] = {}
    for row in daily:
        per_program[row.key[1]] = per_program.get(row.key[1], 0.0) + row.seconds
    ranked = sorted(per_program, key=lambda p: (-per_program[p], p))
    shown = ranked[:CHART_SERIES]
    days = [day.isoformat() for day in query.days_between()]
    index = {day: i for i, day in enumerate(days)}
    values = {name: [0.0] * len(days) for name in [*shown, "other"]}
    for row in daily:
        day, program = row.key
        if day in index:
            values[program if program in shown else "other"][index[day]] += row.seconds
    series = [Series(name, values[name]) for name in [*shown, "other"] if any(values[name])]
    legend = [(s.name, colour(i, s.name)) for i, s in enumerate(series)]
    labels = [day[5:] for day in days]   # MM-DD under the bars; the year is in the filter above
    unit, scale = time_unit(max(map(sum, zip(*(s.values for s in series)))))
    return stacked_bars(labels, series, unit, scale), legend
