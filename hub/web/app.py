"""The ASGI application: who may see what, the routes, and the rendering of pages and CSV."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from markupsafe import Markup
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from common import __version__
from common.errors import ProcmeshError
from hub.storage import StorageError
from hub.web.accounts import Account, Accounts
from hub.web.basic import basic_credentials
from hub.web.cache import AnswerCache, Keep
from hub.web.lockout import Lockout
from hub.web.page import Page, Query
from hub.web.pages import PAGES
from hub.web.pool import StoragePool
from hub.web.pseudonym import Pseudonymizer
from hub.web.rendered import Rendered
from hub.web.session import Sessions, csrf_ok, new_csrf_token
from hub.web.table import Hide

log = logging.getLogger("procmesh.web")
HERE = Path(__file__).parent
OPEN_NAME = "local"   # who an open (loopback, no accounts) dashboard takes a visitor for


@dataclass
class WebContext:
    """Everything the app needs from whoever serves it (the hub, or ``procmesh-hub web``)."""

    pool: StoragePool          # the range pages' answers, which may take seconds
    quick: StoragePool         # accounts and the live pages: never queued behind a slow answer
    sessions: Sessions
    pseudonymizer: Pseudonymizer
    loopback: bool
    settings: dict[str, Any]   # the hub's: watch, labs and licences files, interval, grace, tz
    zone: tzinfo               # of local days and times
    metrics: Callable[[], bytes]   # the Prometheus exposition: the hub's, wherever it is counted
    health: Callable[[], list[str]]
    lockout: Lockout = field(default_factory=Lockout)
    cache: AnswerCache = field(default_factory=AnswerCache)
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str
    hide: Hide | None       # None: user names shown as they are
    csrf: str
    signed_in: bool


def create_app(ctx: WebContext) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(pages=PAGES, version=__version__)

    def identify(request: Request) -> Viewer | None:
        """The viewer behind a request, or None when it must sign in first."""
        with ctx.quick.borrow() as storage:
            accounts = Accounts(storage)
            if ctx.loopback and not accounts.any():
                return Viewer(OPEN_NAME, "admin", _hide(ctx, "admin"), "", False)
            session = ctx.sessions.load(request)
            account = accounts.get(session["user"]) if isinstance(session.get("user"), str) else None
        if account is None:
            return None
        return Viewer(account.name, account.role, _hide(ctx, account.role), session.get("csrf", ""), True)

    def identify_basic(request: Request) -> Viewer | None:
        """Scrapers and health checkers send HTTP Basic credentials of an account instead of a cookie."""
        credentials = basic_credentials(request)
        if credentials is None:
            return None
        account = check_password(request, *credentials)
        return None if isinstance(account, str) or account is None else \
            Viewer(account.name, account.role, _hide(ctx, account.role), "", True)

    def check_password(request: Request, name: str, password: str) -> Account | str | None:
        """The account, or why not (a lockout), or None for a wrong name or password."""
        keys = (f"name:{name}", f"address:{request.client.host if request.client else '-'}")
        wait = ctx.lockout.wait_seconds(*keys)
        if wait > 0:
            return f"too many wrong passwords: try again in {int(wait // 60) + 1} minutes"
        with ctx.quick.borrow() as storage:
            account = Accounts(storage).verify(name, password)
        if account is None:
            ctx.lockout.failed(*keys)
            log.warning("dashboard: wrong name or password for %r from %s", name, keys[1][8:])
        else:
            ctx.lockout.succeeded(*keys)
        return account

    def guarded(handler: Callable[[Request, Viewer], Awaitable[Response]], machine: bool = False) -> Callable:
        """Every route but the login page and the static files passes here."""
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                viewer = await run_in_threadpool(identify, request)
                if viewer is None and machine:
                    viewer = await run_in_threadpool(identify_basic, request)
            except StorageError as exc:
                return PlainTextResponse(f"the database did not answer: {exc}\n", 503)
            if viewer is None:
                if machine or request.url.path.endswith(".csv"):
                    return PlainTextResponse("sign in first\n", 401,
                                             {"WWW-Authenticate": 'Basic realm="procmesh"'})
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", 303)
            response = await handler(request, viewer)
            # Read by bench/dashboard.py: the server's own time, without the network's.
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            return response
        return endpoint

    def render(request: Request, viewer: Viewer, template: str, status: int = 200, **context: Any) -> Response:
        response = templates.TemplateResponse(request, template, {"viewer": viewer, **context},
                                              status_code=status)
        response.headers["Cache-Control"] = "no-store"   # personal data: never from a shared cache
        return response

    main_template = templates.get_template("page_main.html")

    def keep(page: Page) -> Keep:
        limit = ctx.settings["web_cache_seconds"]
        if page.live:   # what runs now changes with every report, not more often
            return Keep(min(limit, ctx.settings["interval"]))
        return Keep(limit, stale=limit)

    def page_route(page: Page) -> Callable[[Request, Viewer], Awaitable[Response]]:
        pool = ctx.quick if page.live else ctx.pool

        def answer(query: Query) -> Rendered:
            with pool.borrow() as storage:
                return Rendered(page.build(storage, query, ctx))

        async def handler(request: Request, viewer: Viewer) -> Response:
            query = Query.from_params(request.query_params, ctx.clock(), ctx.zone)
            try:
                rendered = await ctx.cache.get((page.name, query), keep(page), lambda: answer(query))
            except ProcmeshError as exc:   # the database, or a labs.txt or licenses.txt line
                unavailable = isinstance(exc, StorageError)
                return render(request, viewer, "error.html", 503 if unavailable else 500, page=page,
                              message=str(exc), unavailable=unavailable)
            if request.url.path.endswith(".csv"):
                return await _csv(page, rendered, request.query_params.get("table", ""), viewer, ctx.zone)
            key = ("html", viewer.hide is None, request.url.query)
            main = rendered.text(key) or rendered.keep(key, await run_in_threadpool(
                main_template.render, page=page, view=rendered.view, query=query, hide=viewer.hide,
                csv_query=request.url.query, zone=ctx.zone))
            return render(request, viewer, "page.html", page=page, view=rendered.view, main=Markup(main))
        return handler

    def login_form(request: Request, error: str = "", status: int = 200) -> Response:
        session = ctx.sessions.load(request)
        if not session.get("csrf"):
            session = {"csrf": new_csrf_token()}
        next_path = _safe_next(request.query_params.get("next", "/"))
        response = templates.TemplateResponse(
            request, "login.html", {"viewer": None, "csrf": session["csrf"], "error": error,
                                    "next_path": next_path}, status_code=status)
        ctx.sessions.save(request, response, session)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_form(request)
        form = await request.form()
        session = ctx.sessions.load(request)
        if not csrf_ok(session, form.get("csrf")):
            return PlainTextResponse("the form is out of date or was not sent by this site: reload the "
                                     "page and try again\n", 403)
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        outcome = await run_in_threadpool(check_password, request, name, password)
        if isinstance(outcome, str):
            return login_form(request, outcome, 429)
        if outcome is None:
            return login_form(request, "wrong name or password", 401)
        log.info("dashboard: %s signed in", outcome.name)
        response = RedirectResponse(_safe_next(str(form.get("next", "/"))), 303)
        # A new token at sign-in: a token seen before it is worth nothing after.
        ctx.sessions.save(request, response, {"user": outcome.name, "csrf": new_csrf_token()})
        return response

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(ctx.sessions.load(request), form.get("csrf")):
            return PlainTextResponse("the form is out of date or was not sent by this site\n", 403)
        response = RedirectResponse("/login", 303)
        ctx.sessions.clear(response)
        return response

    async def metrics(_request: Request, _viewer: Viewer) -> Response:
        try:
            exposition = await run_in_threadpool(ctx.metrics)
        except ProcmeshError as exc:   # served by a child process: the hub did not answer it
            return PlainTextResponse(f"{exc}\n", 503)
        return Response(exposition, media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request, _viewer: Viewer) -> Response:
        problems = await run_in_threadpool(ctx.health)
        if problems:
            return PlainTextResponse("; ".join(problems) + "\n", 503)
        return PlainTextResponse("ok\n")

    routes = [Route("/login", login, methods=["GET", "POST"]),
              Route("/logout", logout, methods=["POST"]),
              Route("/metrics", guarded(metrics, machine=True)),
              Route("/healthz", guarded(healthz, machine=True)),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    for page in PAGES:
        handler = guarded(page_route(page))
        routes += [Route(page.path, handler), Route(page.csv_path, handler)]
    if all(page.path != "/" for page in PAGES):
        async def home(_request: Request, _viewer: Viewer) -> Response:
            return RedirectResponse(PAGES[0].path, 303)
        routes.append(Route("/", guarded(home)))
    return Starlette(routes=routes)


def _hide(ctx: WebContext, role: str) -> Hide | None:
    return ctx.pseudonymizer if ctx.settings["pseudonymize_users"] or role != "admin" else None


def _safe_next(path: str) -> str:
    """Only a path on this site: an open redirect would lend the login page to phishing."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


async def _csv(page: Page, rendered: Rendered, which: str, viewer: Viewer, zone: tzinfo) -> Response:
    tables = {table.name: table for table in rendered.view.tables}
    table = tables.get(which) or rendered.view.tables[0]
    key = ("csv", viewer.hide is None, table.name)
    body = rendered.text(key) or rendered.keep(key, await run_in_threadpool(table.csv_text, viewer.hide, zone))
    filename = f"procmesh-{page.name}{'-' + table.name if len(tables) > 1 else ''}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
