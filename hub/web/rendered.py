"""A page's answer and the ways it was rendered, so that a page loaded ten times a second is made once.

An answer is shown in a few ways only (names shown or pseudonymised; HTML with the filters of the
request's query string, or the CSV of one table), and each is the same for every viewer who sees it
that way: the viewer's own part of the page (name, sign-out form) is added around it at each load.
The renderings live and go with the answer they were made from (hub.web.cache).
"""
from __future__ import annotations

from typing import Hashable

from hub.web.page import PageView

# Renderings kept per answer; beyond that (query strings made up by the dozen) each is made afresh.
RENDERINGS = 16


class Rendered:
    def __init__(self, view: PageView) -> None:
        self.view = view
        self._texts: dict[Hashable, str] = {}

    def text(self, key: Hashable) -> str | None:
        return self._texts.get(key)

    def keep(self, key: Hashable, text: str) -> str:
        if len(self._texts) < RENDERINGS:
            self._texts[key] = text
        return text
