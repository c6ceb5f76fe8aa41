"""The functions page: the signed-in account's functions in the chosen region, with
runtime, memory, last modification, last invocation (its own newest log event:
last_invocation.py) and the error rate of the last 24 hours, 50 to a page
(``?marker=`` pages on, as ``ListFunctions`` does)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from lambdad.console import metric_queries
from lambdad.console.last_invocation import last_invoked
from lambdad.console.layout import e, page, table, when
from lambdad.console.view import View
from lambdad.console.web import PREFIX, Response, fn_path, html

PAGE = 50


def _rate(invocations: int, errors: int) -> str:
    if not invocations:
        return '<span class="muted">no invocations</span>'
    pct = 100.0 * errors / invocations
    cls = "bad" if pct >= 5 else "warn" if pct > 0 else "good"
    return f'<span class="rate {cls}">{pct:.1f}%</span> <span class="muted">of {invocations}</span>'


def _row(fn: dict[str, Any], last: float | None, rate: tuple[int, int]) -> list[str]:
    name = fn["FunctionName"]
    runtime = fn.get("Runtime") or fn.get("PackageType") or "—"
    return [
        f'<a class="fn" href="{e(fn_path(name))}">{e(name)}</a>',
        e(runtime),
        f"{e(fn.get('MemorySize'))} MB",
        e(str(fn.get("LastModified", ""))[:19].replace("T", " ")),
        e(when(last)),
        _rate(*rate),
    ]


async def render(view: View, _name: str) -> Response:
    params: dict[str, Any] = {"MaxItems": PAGE}
    marker = view.req.query.get("marker")
    if marker:
        params["Marker"] = marker
    out = await view.aws.lambda_(view.who, view.host, "ListFunctions", **params)
    functions: list[dict[str, Any]] = out.get("Functions") or []
    names = [f["FunctionName"] for f in functions]
    lasts, rates = await asyncio.gather(
        asyncio.gather(*(last_invoked(view, f) for f in functions)),
        metric_queries.error_rates(view.aws, view.who, names, view.now()),
    )
    rows = [
        _row(f, last, rates.get(f["FunctionName"], (0, 0)))
        for f, last in zip(functions, lasts, strict=True)
    ]
    more = ""
    if out.get("NextMarker"):
        more = (
            f'<p><a class="button" href="{PREFIX}/functions?marker='
            f'{e(quote(out["NextMarker"]))}">Next page &rsaquo;</a></p>'
        )
    body = (
        f'<div class="title-row"><h1>Functions</h1><span class="muted">'
        f"{e(view.session.region)}</span></div>"
        '<section class="card">'
        + table(
            ("Function", "Runtime", "Memory", "Last modified", "Last invocation", "Errors (24 h)"),
            rows,
            "No functions in this region yet. Create one with `aws lambda create-function`, "
            "`lambdad deploy` or boto3.",
        )
        + f"</section>{more}"
    )
    return html(page("Functions", view.session, body, nav="functions"))
