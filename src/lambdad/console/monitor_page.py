"""The Monitor tab: invocations, errors, throttles, duration p50 and p99, concurrency
and cold starts of one function over a chosen window, as inline SVG charts drawn from
the CloudWatch metrics lambdad keeps (``GetMetricData``, called in-process)."""

from __future__ import annotations

from lambdad.console import charts, metric_queries
from lambdad.console.layout import e, function_tabs, page
from lambdad.console.view import View
from lambdad.console.web import Response, fn_path, html

# Statistics that are counts: an empty period is a zero, not a gap.
_COUNTS = {"Sum"}


async def render(view: View, name: str) -> Response:
    await view.aws.lambda_(view.who, view.host, "GetFunction", FunctionName=name)
    keys = [r[0] for r in metric_queries.RANGES]
    key = view.req.query.get("range", "1h")
    key = key if key in keys else keys[0]
    start, end, period = metric_queries.window(key, view.now())
    got = await metric_queries.charts(view.aws, view.who, name, start, end, period)
    figures = "".join(
        charts.svg(
            c.title,
            got.get(c.id, {}),
            start,
            end,
            period,
            unit=c.unit,
            zero_fill=c.stat in _COUNTS,
        )
        for c in metric_queries.CHARTS
    )
    picker = "".join(
        f'<a class="{"on" if k == key else ""}" '
        f'href="{e(fn_path(name, "/monitor"))}?range={k}">{e(label)}</a>'
        for k, label, _, _ in metric_queries.RANGES
    )
    body = (
        function_tabs(name, "/monitor")
        + f'<div class="row"><nav class="ranges" aria-label="Time range">{picker}</nav>'
        f'<span class="muted">period {period // 60} min · UTC</span></div>'
        f'<section class="charts" id="charts">{figures}</section>'
    )
    return html(page(f"Monitor {name}", view.session, body, nav="functions"))
