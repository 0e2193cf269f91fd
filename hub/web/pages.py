"""The dashboard's pages in navigation order; each asks the same questions as the command line."""
from __future__ import annotations

from hub.web.page import Page
from hub.web.views import nodes

PAGES: list[Page] = [
    Page("nodes", "Nodes", "/nodes", nodes.build,
         blurb="Every desktop that reported: online or not, when it was last heard from, its agent "
               "and whether it applies the current watch list."),
]
