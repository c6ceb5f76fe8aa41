"""The console's requests and responses: parsed forms, cookies, and the headers every
page carries (a strict Content-Security-Policy: nothing loads from another origin)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

COOKIE = "lambdad_console"
PREFIX = "/console"

_SECURITY = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    # The path below /console, decoded ("" or "/functions/my-fn").
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, method: str, raw_path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Request:
        hdrs = dict(headers)
        path = unquote(raw_path.partition("?")[0][len(PREFIX) :])
        form: dict[str, str] = {}
        ctype = hdrs.get("content-type", "")
        if method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return cls(method, path, dict(parse_qsl(query)), hdrs, body, form)

    @property
    def cookie(self) -> str:
        raw = self.headers.get("cookie", "")
        try:
            jar: SimpleCookie = SimpleCookie(raw)
        except CookieError:
            return ""
        morsel = jar.get(COOKIE)
        return morsel.value if morsel is not None else ""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when it is not one)."""
        try:
            doc = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return {}
        return doc if isinstance(doc, dict) else {}


def html(body: str, status: int = 200, extra: list[tuple[bytes, bytes]] | None = None) -> Response:
    headers = [(b"content-type", b"text/html; charset=utf-8"), *_SECURITY, *(extra or [])]
    return status, headers, body.encode()


def json_response(doc: Any, status: int = 200) -> Response:
    headers = [(b"content-type", b"application/json"), *_SECURITY]
    return status, headers, json.dumps(doc).encode()


def redirect(to: str, extra: list[tuple[bytes, bytes]] | None = None) -> Response:
    return 303, [(b"location", to.encode()), *_SECURITY, *(extra or [])], b""


def asset(body: bytes, ctype: str) -> Response:
    headers = [(b"content-type", ctype.encode()), *_SECURITY[1:4]]
    return 200, [*headers, (b"cache-control", b"private, max-age=300")], body


def set_cookie(token: str, max_age: int) -> tuple[bytes, bytes]:
    value = f"{COOKIE}={token}; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    return b"set-cookie", value.encode()


def clear_cookie() -> tuple[bytes, bytes]:
    return b"set-cookie", f"{COOKIE}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0".encode()


def fn_path(name: str, tail: str = "") -> str:
    return f"{PREFIX}/functions/{quote(name, safe='')}{tail}"
