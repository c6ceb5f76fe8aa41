"""``/console`` on the API port: the web console's front door, before any SigV4.

One of the port's front doors (``model.front_door``), as ``/metrics`` is: requests under
``/console`` are answered here, every other request goes on unchanged. Here: the session
cookie is checked (a page without one goes to the sign-in form; a script's call gets
401), every state-changing request must carry the session's CSRF token and come from
this origin, the page is found by path (anything else is a 404), and whatever fails is
an error page, never a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from lambdad.console import (
    assets,
    cost_page,
    function_page,
    functions_list,
    invoke_page,
    logs_page,
    monitor_page,
    signin,
)
from lambdad.console.aws import Aws
from lambdad.console.layout import REGION, error_page
from lambdad.console.saved_events import SavedEvents
from lambdad.console.sessions import Session, SessionBook, csrf_ok, same_origin, still_valid
from lambdad.console.view import Page, View
from lambdad.console.web import (
    PREFIX,
    Request,
    Response,
    clear_cookie,
    html,
    json_response,
    redirect,
)
from lambdad.errors import AwsError
from lambdad.model import peer
from lambdad.model.credential import Credential
from lambdad.model.endpoints import is_relayed

log = logging.getLogger(__name__)


# Bodies: a sign-in form is small; a signed-in page may post an invoke payload.
SIGNED_OUT_BODY = 16 * 1024
SIGNED_IN_BODY = 6 * 1024 * 1024 + 64 * 1024

_FUNCTION = re.compile(r"/functions/([A-Za-z0-9_-]{1,64})(/[a-z.]+)?")
# (method, tail after /functions/NAME) -> the page; JSON endpoints answer scripts.
_FUNCTION_PAGES: dict[tuple[str, str], Page] = {
    ("GET", ""): function_page.render,
    ("GET", "/test"): invoke_page.render,
    ("POST", "/invoke"): invoke_page.invoke,
    ("GET", "/events"): invoke_page.events,
    ("POST", "/events"): invoke_page.events,
    ("GET", "/monitor"): monitor_page.render,
    ("GET", "/logs"): logs_page.render,
    ("GET", "/logs.json"): logs_page.poll,
}
_JSON_TAILS = {"/invoke", "/events", "/logs.json"}
_PAGES: dict[tuple[str, str], Page] = {
    ("GET", "/functions"): functions_list.render,
    ("GET", "/cost"): cost_page.render,
}


def is_console(path: str) -> bool:
    route = path.partition("?")[0]
    return route == PREFIX or route.startswith(PREFIX + "/")


class Console:
    def __init__(
        self,
        aws: Aws,
        lookup: Callable[[str], Credential | None],
        now: Callable[[], float],
        default_region: str,
        saved: SavedEvents,
    ) -> None:
        self.aws = aws
        self.lookup = lookup
        self.now = now
        self.default_region = default_region
        self.saved = saved
        self.book = SessionBook(now)
        self.guard = signin.Guard(now)

    def body_limit(self, headers: list[tuple[str, str]]) -> int:
        req = Request("GET", "", {}, dict(headers))
        return SIGNED_IN_BODY if self.book.peek(req.cookie) else SIGNED_OUT_BODY

    async def respond(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response:
        """Never raises: every failure is a page (or a JSON error for scripts)."""
        session: Session | None = None
        try:
            req = Request.of(method, path, query, headers, body)
            if req.method == "HEAD":
                req = Request("GET", req.path, req.query, req.headers)
            session = self._session(req)
            status, out_headers, out = await self._route(req, session)
            return status, out_headers, b"" if method == "HEAD" else out
        except AwsError as exc:
            status = exc.status if exc.status < 500 else 503
            return html(error_page(session, status, exc.code, exc.message), status)
        except Exception:
            log.exception("console: %s %s failed", method, path.partition("?")[0])
            message = "The console could not answer this request; the server log has why."
            return html(error_page(session, 503, "Something went wrong", message), 503)

    def _session(self, req: Request) -> Session | None:
        session = self.book.find(req.cookie)
        if session is not None and not still_valid(session, self.lookup(session.access_key_id)):
            self.book.close(req.cookie)
            return None
        return session

    async def _route(self, req: Request, session: Session | None) -> Response:
        if req.method not in ("GET", "POST"):
            return html(error_page(session, 405, "Method not allowed", req.method), 405)
        if req.method == "GET" and req.path.startswith("/assets/"):
            return assets.serve(req.path.removeprefix("/assets/")) or self._not_found(session)
        if req.path in ("", "/"):
            return signin.signed_in_redirect(session)
        if req.path == "/signin":
            if req.method == "GET":
                return signin.signed_in_redirect(session) if session else signin.form()
            if not same_origin(req.headers):
                return signin.form("Sign in from this server's own page.", status=403)
            return signin.sign_in(req, self.lookup, self.book, self.guard, self.default_region)
        if session is None:
            if req.method == "GET" and not req.path.endswith(".json"):
                return redirect(f"{PREFIX}/signin", [clear_cookie()] if req.cookie else [])
            return json_response({"error": "Sign in first."}, 401)
        if req.method == "POST":
            presented = req.form.get("csrf") or req.headers.get("x-csrf-token")
            if not same_origin(req.headers) or not csrf_ok(session, presented):
                return json_response({"error": "Missing or wrong CSRF token."}, 403)
        if req.path == "/signout" and req.method == "POST":
            return signin.sign_out(req, self.book)
        if req.path == "/region" and req.method == "POST":
            region = req.form.get("region", "")
            if REGION.fullmatch(region):
                self.book.set_region(req.cookie, region)
            back = req.headers.get("referer", "")
            to = back.partition("://")[2].partition("/")[2]
            target = "/" + to if to.startswith("console/") else f"{PREFIX}/functions"
            return redirect(target.partition("?")[0])
        view = View(req, session, self.aws, self.saved, self.now)
        page = _PAGES.get((req.method, req.path))
        if page is not None:
            return await page(view, "")
        found = _FUNCTION.fullmatch(req.path)
        if found is not None:
            name, tail = found.group(1), found.group(2) or ""
            page = _FUNCTION_PAGES.get((req.method, tail))
            if page is not None:
                if tail in _JSON_TAILS:
                    return await self._json(page, view, name)
                return await page(view, name)
        return self._not_found(session)

    async def _json(self, page: Page, view: View, name: str) -> Response:
        try:
            return await page(view, name)
        except AwsError as exc:
            status = exc.status if exc.status < 500 else 503
            return json_response({"error": f"{exc.code}: {exc.message}"}, status)

    @staticmethod
    def _not_found(session: Session | None) -> Response:
        return html(error_page(session, 404, "Not found", "No console page has this address."), 404)


class ConsoleRoute:
    """``/console`` as a front door (``model.front_door``)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def claim(self, method: str, path: str, host: str | None) -> str | None:
        return path if is_console(path) else None

    def body_limit(self, claim: str, headers: list[tuple[str, str]]) -> int:
        return self.console.body_limit(headers)

    async def answer(
        self,
        claim: str,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        if is_relayed(peer.CLIENT.get()):
            # A function's relay to lambdad (model/endpoints.py): the console is people's.
            return 403, [(b"content-type", b"text/plain")], b"forbidden\n"
        return await self.console.respond(method, path, query, headers, body)
