"""Charts drawn on the server as SVG: no script, nothing to download, readable without a network.

Every mark carries a <title> (shown on hover) with its exact value, and ``class="mark"`` with the
series and category in data attributes, so a test can count what was drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 30, 40
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#86bcb6")
OTHER_COLOUR = "#bab0ac"
MAX_X_LABELS = 16


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str = ""


def colour(index: int, name: str = "") -> str:
    return OTHER_COLOUR if name == "other" else PALETTE[index % len(PALETTE)]


def nice_step(top: float, ticks: int = 5) -> float:
    """A step of 1, 2 or 5 times a power of ten giving at most ``ticks`` gridlines up to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def time_unit(largest_seconds: float) -> tuple[str, float]:
    """Hours, or minutes when even the largest value is under two hours."""
    return ("hours", 3600.0) if largest_seconds >= 7200 else ("minutes", 60.0)


def _frame(body: list[str], label: str, height: float = HEIGHT) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
                  f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')


def _mark(kind: str, series: str, category: str, box: tuple[float, float, float, float], fill: str,
          title: str, opacity: float = 1.0) -> str:
    """One drawn value: a rectangle (x, y, width, height) that says what it is and holds its title."""
    x, y, width, height = box
    return (f'<rect class="{kind}" data-series="{escape(series)}" data-category="{escape(category)}" '
            f'x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{fill}" '
            f'fill-opacity="{opacity:.3f}"><title>{escape(title)}</title></rect>')


def _axes(categories: Sequence[str], top: float, unit: str, scale: float,
          whole: bool = False) -> tuple[list[str], float, float]:
    """Gridlines, y labels and x labels; returns them with the plot's bar slot width and y scale.
    ``whole``: the values are counts, so the gridlines are whole numbers."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = nice_step(top / scale) * scale
    if whole:
        step = max(1.0, round(step))
    top = max(step, math.ceil(top / step) * step)
    y_scale = plot_h / top
    parts = []
    value = 0.0
    while value <= top + step / 2:
        y = TOP + plot_h - value * y_scale
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_number(value / scale)}</text>')
        value += step
    parts.append(f'<text class="unit" x="{LEFT - 6}" y="{TOP - 14}" text-anchor="start">{escape(unit)}</text>')
    slot = plot_w / max(1, len(categories))
    every = max(1, math.ceil(len(categories) / MAX_X_LABELS))
    for i, name in enumerate(categories):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                     f'{escape(name)}</text>')
    bottom = TOP + plot_h
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}"/>')
    return parts, slot, y_scale


def _number(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value:,.0f}"


def stacked_bars(categories: Sequence[str], series: Sequence[Series], unit: str, scale: float) -> Markup:
    """Bars per category, stacked by series; values divided by ``scale`` for the axis (3600: hours)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    parts, slot, y_scale = _axes(categories, max(totals, default=0.0) or scale, unit, scale)
    base = [0.0] * len(categories)
    plot_bottom = HEIGHT - BOTTOM
    for index, s in enumerate(series):
        fill = s.colour or colour(index, s.name)
        for i, value in enumerate(s.values):
            if value <= 0:
                continue
            height = value * y_scale
            y = plot_bottom - base[i] * y_scale - height
            base[i] += value
            title = f"{s.name}, {categories[i]}: {_number(round(value / scale, 2))} {unit}"
            parts.append(_mark("mark", s.name, categories[i], (LEFT + slot * (i + 0.15), y, slot * 0.7, height),
                               fill, title))
    return _frame(parts, f"chart in {unit}")


def bars_with_limit(categories: Sequence[str], values: Sequence[float], limit: float | None, unit: str,
                    name: str) -> Markup:
    """One bar per category, and a dashed line at ``limit`` (licences owned) when there is one."""
    top = max([*values, limit or 0.0, 1.0])
    parts, slot, y_scale = _axes(categories, top, unit, 1.0, whole=True)
    plot_bottom = HEIGHT - BOTTOM
    for i, value in enumerate(values):
        over = limit is not None and value > limit
        height = value * y_scale
        parts.append(_mark("mark over" if over else "mark", name, categories[i],
                           (LEFT + slot * (i + 0.15), plot_bottom - height, slot * 0.7, height),
                           PALETTE[3] if over else PALETTE[0],
                           f"{name}, {categories[i]}: {_number(value)} {unit}"))
    if limit is not None:
        y = plot_bottom - limit * y_scale
        parts.append(f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="limit-label" x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end">'
                     f'{_number(limit)} licence{"" if limit == 1 else "s"} owned</text>')
    return _frame(parts, f"{name}: {unit}")


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]], unit: str,
            scale: float) -> Markup:
    """A grid of cells, darker for more; each cell's title holds its value."""
    width_left, cell_top = 48, 22
    cell_w = (WIDTH - width_left - RIGHT) / max(1, len(columns))
    cell_h = min(32.0, (HEIGHT - cell_top - 8) / max(1, len(rows)))
    top = max((v for row in values for v in row), default=0.0) or 1.0
    parts = []
    for j, name in enumerate(columns):
        parts.append(f'<text class="tick" x="{width_left + cell_w * (j + 0.5):.1f}" y="{cell_top - 6}" '
                     f'text-anchor="middle">{escape(name)}</text>')
    for i, row_name in enumerate(rows):
        y = cell_top + cell_h * i
        parts.append(f'<text class="tick" x="{width_left - 6}" y="{y + cell_h / 2 + 4:.1f}" '
                     f'text-anchor="end">{escape(row_name)}</text>')
        for j, value in enumerate(values[i]):
            title = f"{row_name} {columns[j]}:00: {_number(round(value / scale, 2))} {unit}"
            parts.append(_mark("mark cell", row_name, columns[j],
                               (width_left + cell_w * j, y, cell_w - 1, cell_h - 1), PALETTE[0], title,
                               0.06 + 0.94 * value / top))
    return _frame(parts, f"heatmap in {unit}", cell_top + cell_h * len(rows) + 8)
