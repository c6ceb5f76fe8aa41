"""The console's door with fake operations: sign-in, refusals, CSRF, routing, and
errors answered as pages (never a traceback), every call scoped to the session."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.console.aws import Aws
from lambdad.console.door import Console
from lambdad.console.saved_events import SavedEvents
from lambdad.errors import ResourceNotFoundException
from lambdad.model.credential import Credential

KEY = Credential("AKIDEXAMPLE", "s3cret", "123456789012")
HOST = "127.0.0.1:9550"
ORIGIN = f"http://{HOST}"
Response = tuple[int, list[tuple[bytes, bytes]], bytes]


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict[str, Any]]] = []

    def op(self, name: str, out: Any) -> Any:
        async def handler(ctx: RequestContext, params: dict[str, Any]) -> Any:
            self.seen.append((name, ctx.scope.account, ctx.scope.region, params))
            if isinstance(out, Exception):
                raise out
            return out

        return handler


def console(ops: dict[str, Any] | None = None) -> Console:
    keys = {KEY.access_key_id: KEY}
    return Console(Aws(ops or {}), keys.get, lambda: 1000.0, "us-east-1", SavedEvents())


def call(c: Console, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
    hdrs = [("host", HOST), *((k.replace("_", "-"), v) for k, v in headers.items())]
    path, _, query = path.partition("?")
    return asyncio.run(c.respond(method, path, query, hdrs, body))


def header(resp: Response, name: str) -> str:
    return next((v.decode() for k, v in resp[1] if k == name.encode()), "")


def signed_in(c: Console) -> tuple[str, str]:
    """(cookie header, csrf token) of a fresh session."""
    resp = call(
        c,
        "POST",
        "/console/signin",
        b"access_key_id=AKIDEXAMPLE&secret=s3cret",
        content_type="application/x-www-form-urlencoded",
        origin=ORIGIN,
    )
    assert resp[0] == 303, resp
    cookie = header(resp, "set-cookie").split(";")[0]
    page = call(c, "GET", "/console/cost", cookie=cookie)
    token = re.search(rb'name="csrf" content="([^"]+)"', page[2])
    assert token is not None
    return cookie, token.group(1).decode()


def test_pages_need_a_session() -> None:
    c = console()
    resp = call(c, "GET", "/console/functions")
    assert (resp[0], header(resp, "location")) == (303, "/console/signin")
    assert call(c, "GET", "/console/functions/f/logs.json")[0] == 401
    assert call(c, "POST", "/console/functions/f/invoke", b"{}", origin=ORIGIN)[0] == 401
    assert call(c, "GET", "/console/signin")[0] == 200


def test_sign_in_sets_a_strict_http_only_cookie() -> None:
    c = console()
    form = b"access_key_id=AKIDEXAMPLE&secret=s3cret"
    ctype = "application/x-www-form-urlencoded"
    resp = call(c, "POST", "/console/signin", form, content_type=ctype, origin=ORIGIN)
    cookie = header(resp, "set-cookie")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    # From another origin (login CSRF), or with a wrong secret: no session.
    other = call(c, "POST", "/console/signin", form, content_type=ctype, origin="http://evil")
    assert other[0] == 403
    assert not header(other, "set-cookie")
    wrong = b"access_key_id=AKIDEXAMPLE&secret=nope"
    bad = call(c, "POST", "/console/signin", wrong, content_type=ctype, origin=ORIGIN)
    assert bad[0] == 401
    assert not header(bad, "set-cookie")


def test_guessing_secrets_is_slowed_down() -> None:
    c = console()
    wrong = b"access_key_id=AKIDEXAMPLE&secret=nope"
    ctype = "application/x-www-form-urlencoded"
    for _ in range(5):
        assert (
            call(c, "POST", "/console/signin", wrong, content_type=ctype, origin=ORIGIN)[0] == 401
        )
    right = b"access_key_id=AKIDEXAMPLE&secret=s3cret"
    assert call(c, "POST", "/console/signin", right, content_type=ctype, origin=ORIGIN)[0] == 429


def test_state_changes_need_the_csrf_token_and_this_origin() -> None:
    rec = Recorder()
    c = console({"Invoke": rec.op("Invoke", {"StatusCode": 200, "Payload": b"{}"})})
    cookie, csrf = signed_in(c)
    body = json.dumps({"payload": "{}"}).encode()
    path = "/console/functions/f/invoke"
    assert call(c, "POST", path, body, cookie=cookie, origin=ORIGIN)[0] == 403
    no_origin = call(c, "POST", path, body, cookie=cookie, x_csrf_token=csrf)
    assert no_origin[0] == 403
    evil = call(c, "POST", path, body, cookie=cookie, origin="http://evil", x_csrf_token=csrf)
    assert evil[0] == 403
    assert rec.seen == []
    ok = call(c, "POST", path, body, cookie=cookie, origin=ORIGIN, x_csrf_token=csrf)
    assert ok[0] == 200
    assert json.loads(ok[2])["statusCode"] == 200
    assert [(n, a, r) for n, a, r, _ in rec.seen] == [("Invoke", "123456789012", "us-east-1")]


def test_operations_run_in_the_sessions_region() -> None:
    rec = Recorder()
    c = console({"ListFunctions": rec.op("ListFunctions", {"Functions": []})})
    cookie, csrf = signed_in(c)
    form = f"csrf={csrf}&region=eu-west-3".encode()
    ctype = "application/x-www-form-urlencoded"
    moved = call(
        c, "POST", "/console/region", form, cookie=cookie, origin=ORIGIN, content_type=ctype
    )
    assert moved[0] == 303
    assert call(c, "GET", "/console/functions", cookie=cookie)[0] == 200
    assert rec.seen[-1][1:3] == ("123456789012", "eu-west-3")
    bogus = f"csrf={csrf}&region=../../etc".encode()
    call(c, "POST", "/console/region", bogus, cookie=cookie, origin=ORIGIN, content_type=ctype)
    call(c, "GET", "/console/functions", cookie=cookie)
    assert rec.seen[-1][2] == "eu-west-3"


def test_unknown_paths_are_404_and_failures_are_pages() -> None:
    missing = ResourceNotFoundException("Function not found: f")
    broken_list = Recorder().op("ListFunctions", RuntimeError("boom"))
    c = console(
        {"GetFunction": Recorder().op("GetFunction", missing), "ListFunctions": broken_list}
    )
    cookie, _ = signed_in(c)
    for path in ("/console/nope", "/console/functions/a/b/c", "/console/functions/bad%20name"):
        assert call(c, "GET", path, cookie=cookie)[0] == 404, path
    assert call(c, "GET", "/console/assets/../../etc/passwd")[0] == 404
    gone = call(c, "GET", "/console/functions/f", cookie=cookie)
    assert gone[0] == 404
    assert b"Function not found: f" in gone[2]
    broken = call(c, "GET", "/console/functions", cookie=cookie)
    assert broken[0] == 503
    assert b"Traceback" not in broken[2]
    assert b"boom" not in broken[2]
    assert call(c, "DELETE", "/console/functions", cookie=cookie)[0] == 405


def test_sign_out_ends_the_session() -> None:
    c = console()
    cookie, csrf = signed_in(c)
    form = f"csrf={csrf}".encode()
    ctype = "application/x-www-form-urlencoded"
    out = call(
        c, "POST", "/console/signout", form, cookie=cookie, origin=ORIGIN, content_type=ctype
    )
    assert out[0] == 303
    assert "Max-Age=0" in header(out, "set-cookie")
    assert header(call(c, "GET", "/console/cost", cookie=cookie), "location") == "/console/signin"


def test_head_answers_without_a_body() -> None:
    c = console()
    resp = call(c, "HEAD", "/console/signin")
    assert resp[0] == 200
    assert resp[2] == b""


def test_pages_forbid_other_origins_content() -> None:
    c = console()
    resp = call(c, "GET", "/console/signin")
    csp = header(resp, "content-security-policy")
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert header(resp, "x-frame-options") == "DENY"
    assert call(c, "GET", "/console/assets/console.css")[0] == 200


def test_a_functions_relay_never_reaches_the_console() -> None:
    from lambdad.console.door import ConsoleRoute
    from lambdad.model import peer

    route = ConsoleRoute(console())
    claim = route.claim("GET", "/console/functions", "127.0.0.1:9550")
    token = peer.CLIENT.set("127.77.0.9")
    try:
        status, _, body = asyncio.run(route.answer(claim, "GET", "/console/functions", "", [], b""))
    finally:
        peer.CLIENT.reset(token)
    assert (status, body) == (403, b"forbidden\n")
