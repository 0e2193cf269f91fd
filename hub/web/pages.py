"""The dashboard's pages in navigation order; each asks the same questions as the command line."""
from __future__ import annotations

from hub.web.page import Page
from hub.web.views import nodes, now, peaks, unused, usage, when

RANGE_FILTERS = ("range", "lab", "computer", "program", "user")

PAGES: list[Page] = [
    Page("now", "Now", "/", now.build, ("lab",), live=True,
         blurb="Which seats are free, in use or switched off, and what runs on each computer; the page "
               "refreshes by itself."),
    Page("usage", "Usage", "/usage", usage.build, RANGE_FILTERS,
         blurb="How long the watched programs ran, per day and in all, per program, lab, computer and user."),
    Page("when", "When", "/when", when.build, RANGE_FILTERS,
         blurb="Which hours of the week the computers are in use: for a lab, a computer or a program."),
    Page("peaks", "Peaks", "/peaks", peaks.build, ("range", "per", "program"),
         blurb="The most computers that ran each program at the same time, per day, week or month, "
               "against the licences owned (licenses.txt)."),
    Page("unused", "Unused", "/unused", unused.build, ("days",),
         blurb="Watched programs nobody used, and desktops that stopped reporting, for the days chosen."),
    Page("nodes", "Nodes", "/nodes", nodes.build, live=True,
         blurb="Every desktop that reported: online or not, when it was last heard from, its agent "
               "and whether it applies the current watch list."),
]
