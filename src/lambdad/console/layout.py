"""The shell every console page shares: header, navigation, region picker, sign-out,
and the small HTML helpers pages use (everything interpolated is escaped)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape

from lambdad.console.sessions import Session
from lambdad.console.web import PREFIX, fn_path

# The regions the picker offers (any region is a world of its own on lambdad).
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
    "sa-east-1", "me-south-1", "af-south-1",
)  # fmt: skip
REGION = re.compile(r"(eusc-)?[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(epoch_ms: float | None) -> str:
    if not epoch_ms:
        return "—"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def log_text(message: str) -> str:
    """Log text with its lines on lines: Lambda's runtimes join the lines of one record
    (a traceback) with carriage returns, which a page would show as spaces."""
    return message.rstrip("\r\n").replace("\r\n", "\n").replace("\r", "\n")


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], empty: str) -> str:
    """Rows of already-escaped cells."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def definitions(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, already-escaped value)."""
    items = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    return f'<dl class="props">{items}</dl>'


def csrf_field(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'


def _region_picker(session: Session) -> str:
    regions = REGIONS if session.region in REGIONS else (session.region, *REGIONS)
    options = "".join(
        f'<option value="{e(r)}"{" selected" if r == session.region else ""}>{e(r)}</option>'
        for r in regions
    )
    return (
        f'<form method="post" action="{PREFIX}/region" class="region" id="region-form">'
        f'{csrf_field(session)}<label for="region">Region</label>'
        f'<select name="region" id="region" data-autosubmit>{options}</select>'
        '<noscript><button type="submit">Go</button></noscript></form>'
    )


def page(title: str, session: Session | None, content: str, *, nav: str = "") -> str:
    header = ""
    if session is not None:
        header = (
            '<header class="top"><a class="brand" href="/console/functions">λ lambdad</a>'
            f'<nav><a href="{PREFIX}/functions" class="{_on(nav, "functions")}">Functions</a>'
            f'<a href="{PREFIX}/cost" class="{_on(nav, "cost")}">Cost</a></nav>'
            f'<div class="who"><span class="account" title="Account">{e(session.account)}</span>'
            f"{_region_picker(session)}"
            f'<form method="post" action="{PREFIX}/signout" class="signout">{csrf_field(session)}'
            '<button type="submit" id="signout">Sign out</button></form></div></header>'
        )
    csrf = f'<meta name="csrf" content="{e(session.csrf)}">' if session else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · lambdad</title>{csrf}"
        f'<link rel="stylesheet" href="{PREFIX}/assets/console.css">'
        f'<script src="{PREFIX}/assets/console.js" defer></script></head>'
        f"<body>{header}<main>{content}</main></body></html>"
    )


def _on(nav: str, name: str) -> str:
    return "on" if nav == name else ""


def function_tabs(name: str, current: str) -> str:
    tabs = (("", "Overview"), ("/test", "Test"), ("/monitor", "Monitor"), ("/logs", "Logs"))
    links = "".join(
        f'<a href="{e(fn_path(name, tail))}" class="{"on" if tail == current else ""}">{label}</a>'
        for tail, label in tabs
    )
    return (
        f'<p class="crumbs"><a href="{PREFIX}/functions">Functions</a> &rsaquo; {e(name)}</p>'
        f'<h1>{e(name)}</h1><nav class="tabs">{links}</nav>'
    )


def error_page(session: Session | None, status: int, title: str, message: str) -> str:
    return page(
        title,
        session,
        f'<section class="card error-card"><h1>{e(title)}</h1><p>{e(message)}</p>'
        f'<p><a href="{PREFIX}/functions">Back to functions</a></p></section>',
    )
