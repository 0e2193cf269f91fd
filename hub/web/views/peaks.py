"""Peaks: most computers running each program at once, per day, week or month, against the licences owned."""
from __future__ import annotations

from typing import TYPE_CHECKING

from hub.answer_commands import licenses_of
from hub.answers import Window
from hub.answers.peak import peaks
from hub.storage import Storage
from hub.web.charts import bars_with_limit
from hub.web.page import PageView, Query
from hub.web.table import NUMBER, SECONDS, TIME, Column, Table

if TYPE_CHECKING:
    from hub.web.app import WebContext


def build(storage: Storage, query: Query, ctx: WebContext) -> PageView:
    labels = [query.program] if query.program else []
    rows = peaks(storage, Window(*query.bounds(ctx.zone)), ctx.zone, ctx.clock(), query.per, "computers",
                 labels, licenses_of(ctx.settings))
    table = Table([Column("Period"), Column("Program", key="process"), Column("Peak", NUMBER),
                   Column("At", TIME), Column("Time at peak", SECONDS, "seconds_at_peak"),
                   Column("Licences", NUMBER, "licenses"),
                   Column("Time over licences", SECONDS, "seconds_over_licenses")],
                  name="peaks", empty="no watched program ran in this range")
    table.rows = [[r.period, r.process, r.peak, r.at, r.seconds_at_peak, r.licenses, r.seconds_over_licenses]
                  for r in rows]
    shown = query.program or max(rows, key=lambda r: (r.peak, r.seconds_at_peak)).process if rows else ""
    chart = None
    if shown:
        mine = {r.period: r for r in rows if r.process == shown}
        limit = next((r.licenses for r in mine.values() if r.licenses is not None), None)
        # Days without use are drawn as empty days; weeks and months as the answer names them.
        periods = [day.isoformat() for day in query.days_between()] if query.per == "day" else list(mine)
        chart = bars_with_limit(periods, [float(mine[p].peak) if p in mine else 0.0 for p in periods], limit,
                                "computers at once", shown)
    notes = [f"The chart shows {shown}" + ("" if query.program else ", the program with the highest peak; "
                                           "choose another with the Program filter") + ". A dashed line marks "
             "the licences owned, where licenses.txt names the program."] if shown else []
    return PageView([table], chart, notes=notes)
