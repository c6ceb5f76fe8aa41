"""The Logs tab: the function's log group (its ``LoggingConfig.LogGroup``, by default
``/aws/lambda/NAME``) as it grows.

The page shows the last ``WINDOW_MS`` of events, then its script polls
``logs.json?group=<group>&since=<epoch ms>`` every couple of seconds for newer ones
(CloudWatch Logs' ``FilterLogEvents`` over the same store ``aws logs tail`` reads).
The function's configuration is read once, when the tab opens: the poll names the
group it found (the signed-in caller's own Logs permissions apply to it, as to any
FilterLogEvents of theirs), and a poll without one reads the configuration again."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lambdad.console.layout import e, function_tabs, log_text, page, when
from lambdad.console.view import View
from lambdad.console.web import Response, fn_path, html, json_response
from lambdad.errors import AwsError

WINDOW_MS = 3600 * 1000
LIMIT = 500


def _group(config: dict[str, Any], name: str) -> str:
    return str((config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}")


async def _events(view: View, group: str, since: int) -> list[dict[str, Any]]:
    """The newest ``LIMIT`` events since ``since`` (a live view shows the latest)."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(5):  # at most a few pages per poll
        params: dict[str, Any] = {
            "logGroupName": group,
            "startTime": since,
            "limit": LIMIT,
        }
        if token:
            params["nextToken"] = token
        try:
            out = await view.aws.logs(view.who, "FilterLogEvents", **params)
        except AwsError:  # no log group yet
            return found
        found += out.get("events") or []
        token = out.get("nextToken")
        if not token:
            break
    found.sort(key=lambda ev: (ev.get("timestamp", 0), ev.get("eventId", "")))
    return found[-LIMIT:]


def _row(ev: dict[str, Any]) -> str:
    message = log_text(str(ev.get("message", "")))
    cls = "report" if message.startswith(("REPORT ", "START ", "END ")) else ""
    return (
        f'<tr class="{cls}" data-id="{e(ev.get("eventId"))}"><td class="ts">'
        f"{e(when(ev.get('timestamp')))}</td><td><pre>{e(message)}</pre></td></tr>"
    )


async def render(view: View, name: str) -> Response:
    fn = await view.aws.lambda_(view.who, view.host, "GetFunction", FunctionName=name)
    group = _group(fn.get("Configuration") or {}, name)
    now_ms = int(view.now() * 1000)
    found = await _events(view, group, now_ms - WINDOW_MS)
    last = max((int(ev.get("timestamp", 0)) for ev in found), default=now_ms - WINDOW_MS)
    rows = "".join(_row(ev) for ev in found)
    body = (
        function_tabs(name, "/logs")
        + f'<section class="card" id="logs" data-poll="{e(_poll_url(name, group))}" '
        f'data-since="{last}"><div class="row"><h2>{e(group)}</h2>'
        '<label class="live"><input type="checkbox" id="follow" checked> Live</label>'
        '<span id="log-status" class="muted" role="status"></span></div>'
        f'<table class="logs"><tbody id="log-rows">{rows}</tbody></table>'
        f'<p class="empty" id="no-logs"{" hidden" if found else ""}>'
        "No log events in the last hour. Invoke the function and they appear here.</p>"
        "</section>"
    )
    return html(page(f"Logs {name}", view.session, body, nav="functions"))


def _poll_url(name: str, group: str) -> str:
    return fn_path(name, "/logs.json") + "?group=" + quote(group, safe="")


async def poll(view: View, name: str) -> Response:
    raw = view.req.query.get("since", "")
    now_ms = int(view.now() * 1000)
    since = int(raw) if raw.isdigit() else now_ms - WINDOW_MS
    group = view.req.query.get("group", "")
    if not group:
        config = await view.aws.lambda_(
            view.who, view.host, "GetFunctionConfiguration", FunctionName=name
        )
        group = _group(config, name)
    found = await _events(view, group, max(since, now_ms - 14 * 86400 * 1000))
    return json_response(
        {
            "events": [
                {
                    "id": ev.get("eventId"),
                    "time": when(ev.get("timestamp")),
                    "timestamp": ev.get("timestamp"),
                    "message": log_text(str(ev.get("message", ""))),
                }
                for ev in found
            ]
        }
    )
