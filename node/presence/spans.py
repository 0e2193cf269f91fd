"""Disjoint time spans in order, and how much of them lies in a window."""
from __future__ import annotations

from bisect import bisect_left, bisect_right


class Spans:
    """Disjoint, ordered spans of time; a span that touches or overlaps another merges with it."""

    __slots__ = ("_starts", "_ends")

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, start: float, end: float) -> None:
        if end <= start:
            return
        starts, ends = self._starts, self._ends
        if not starts or start > ends[-1]:
            # Scans add spans in time order: the common case appends.
            starts.append(start)
            ends.append(end)
            return
        first = bisect_left(ends, start)   # the first span that ends at or after this one's start
        last = bisect_right(starts, end)
        if first < last:
            start, end = min(start, starts[first]), max(end, ends[last - 1])
        starts[first:last] = [start]
        ends[first:last] = [end]

    def length(self, lo: float, hi: float) -> float:
        """Seconds of these spans inside [lo, hi]."""
        return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in self._within(lo, hi))

    def overlap(self, other: Spans, lo: float, hi: float) -> float:
        """Seconds inside [lo, hi] that lie in these spans and in ``other`` too."""
        total = 0.0
        mine, theirs = list(self._within(lo, hi)), list(other._within(lo, hi))
        i = j = 0
        while i < len(mine) and j < len(theirs):
            start = max(mine[i][0], theirs[j][0], lo)
            end = min(mine[i][1], theirs[j][1], hi)
            total += max(0.0, end - start)
            if mine[i][1] < theirs[j][1]:
                i += 1
            else:
                j += 1
        return total

    def forget_before(self, moment: float) -> None:
        """Drop the spans that end before ``moment``: nothing will ask about them again."""
        keep = bisect_right(self._ends, moment)
        del self._starts[:keep]
        del self._ends[:keep]

    def _within(self, lo: float, hi: float):
        first = bisect_right(self._ends, lo)
        for index in range(first, len(self._starts)):
            if self._starts[index] >= hi:
                break
            yield self._starts[index], self._ends[index]
