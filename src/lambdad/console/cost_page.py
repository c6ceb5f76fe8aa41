"""The Cost page: this month's bill (or ``?month=YYYY-MM``) for the signed-in account in
the chosen region, priced by ``observe.pricing`` as ``lambdad cost`` prices it."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

from lambdad.console.layout import e, page, table
from lambdad.console.view import View
from lambdad.console.web import PREFIX, Response, fn_path, html

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _usd(value: Any) -> str:
    return f"${float(value or 0):,.6f}".rstrip("0").rstrip(".") if value else "$0"


async def render(view: View, _name: str) -> Response:
    month = view.req.query.get("month") or time.strftime("%Y-%m", time.gmtime(view.now()))
    if not _MONTH.fullmatch(month):
        month = time.strftime("%Y-%m", time.gmtime(view.now()))
    doc: dict[str, Any] = {}
    if view.aws.cost is not None:
        status, _, raw = await view.aws.cost(view.who.scope, urlencode({"month": month}))
        doc = json.loads(raw) if status == 200 else {}
    rows = [
        [
            f'<a href="{e(fn_path(str(f.get("function", ""))))}">{e(f.get("function"))}</a>',
            *(e(f.get(k, "")) for k in ("requests", "gb_seconds")),
            e(_usd(f.get("cost_before_free_tier_usd"))),
            e(_usd(f.get("cost_usd"))),
        ]
        for f in doc.get("functions") or []
    ]
    body = (
        '<div class="title-row"><h1>Cost</h1>'
        f'<form method="get" action="{PREFIX}/cost" class="month">'
        '<label for="month">Month</label>'
        f'<input id="month" name="month" type="month" value="{e(month)}">'
        '<button type="submit">Show</button></form></div><section class="card total">'
        f'<span class="muted">{e(month)} · {e(view.session.region)}</span>'
        f'<strong id="total">{e(_usd(doc.get("total_usd", 0)))}</strong>'
        '<span class="muted">after the free tier, at the operator\'s prices</span></section>'
        '<section class="card">'
        + table(
            ("Function", "Requests", "GB-seconds", "Before free tier", "Cost"),
            rows,
            "No usage this month.",
        )
        + "</section>"
    )
    return html(page("Cost", view.session, body, nav="cost"))
