"""When: seat time by hour of day and weekday, for a lab, a computer or a program, as a heatmap."""
from __future__ import annotations

from typing import TYPE_CHECKING

from hub.answers.periods import WEEKDAYS
from hub.storage import Storage
from hub.web.charts import heatmap, time_unit
from hub.web.page import PageView, Query
from hub.web.table import SECONDS, Column, Table
from hub.web.views.ask import ask

if TYPE_CHECKING:
    from hub.web.app import WebContext

HOURS = [f"{hour:02d}" for hour in range(24)]


def build(storage: Storage, query: Query, ctx: WebContext) -> PageView:
    rows = ask(storage, ctx, query, ["weekday", "hour"])
    seconds = {row.key: row.seconds for row in rows}
    grid = [[seconds.get((day, hour), 0.0) for hour in HOURS] for day in WEEKDAYS]
    table = Table([Column("Weekday"), *(Column(hour, SECONDS, f"h{hour}") for hour in HOURS)],
                  name="hours", empty="nothing ran in this range")
    table.rows = [[day, *values] for day, values in zip(WEEKDAYS, grid)]
    unit, scale = time_unit(max(map(max, grid)))
    chart = heatmap(WEEKDAYS, HOURS, grid, unit, scale) if rows else None
    weeks = len(query.days_between()) / 7
    notes = [f"Seat time summed over the {len(query.days_between())} days chosen (about {weeks:.1f} of "
             "each weekday): the darker a cell, the more of the lab's seats were in use in that hour. "
             "Hover a cell for its hours."]
    return PageView([table], chart, notes=notes)
