"""The Test tab: invoke a function with a JSON event and see its result, the tail of
its log and its REPORT line; keep test events per function (``saved_events``).

The page's script posts JSON to ``invoke`` and ``events`` (with the session's CSRF
token in ``X-CSRF-Token``); the invoke is Lambda's own ``Invoke`` with
``LogType: Tail``, so what shows is what ``aws lambda invoke --log-type Tail`` gets."""

from __future__ import annotations

import base64
import json
import re

from lambdad.console.layout import e, function_tabs, log_text, page
from lambdad.console.saved_events import SavedEventError
from lambdad.console.view import View
from lambdad.console.web import Response, fn_path, html, json_response
from lambdad.errors import AwsError

# Lambda's own constraint on Qualifier (the console's calls skip the wire's validation).
_QUALIFIER = re.compile(r"\$LATEST|[a-zA-Z0-9$_-]{1,128}")
DEFAULT_EVENT = '{\n  "key1": "value1",\n  "key2": "value2"\n}'


def _json_error(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


async def render(view: View, name: str) -> Response:
    # GetFunction first: a page for a function that is not there is a 404.
    await view.aws.lambda_(view.who, view.host, "GetFunction", FunctionName=name)
    events = await view.saved.named(view.who.scope, name)
    options = "".join(f'<option value="{e(n)}">{e(n)}</option>' for n, _ in events)
    data = e(json.dumps(dict(events)))
    body = (
        function_tabs(name, "/test")
        + f'<section class="card" id="test" data-invoke="{e(fn_path(name, "/invoke"))}" '
        f'data-events="{e(fn_path(name, "/events"))}" data-saved="{data}">'
        '<div class="row"><label for="saved">Saved events</label>'
        f'<select id="saved"><option value="">— new event —</option>{options}</select>'
        '<label for="event-name">Name</label>'
        '<input id="event-name" placeholder="my-event" maxlength="25">'
        '<label for="qualifier">Qualifier</label>'
        '<input id="qualifier" placeholder="$LATEST" maxlength="128"></div>'
        f'<textarea id="payload" spellcheck="false" rows="10">{e(DEFAULT_EVENT)}</textarea>'
        '<div class="row buttons"><button class="primary" id="invoke">Invoke</button>'
        '<button id="save">Save event</button><button id="delete">Delete event</button>'
        '<span id="status" class="muted" role="status"></span></div></section>'
        '<section class="card" id="result" hidden><h2>Execution result: '
        '<span id="outcome"></span></h2><pre class="code" id="response"></pre>'
        '<h3>Summary</h3><pre class="code report" id="report"></pre>'
        '<h3>Log output</h3><pre class="code log" id="log"></pre></section>'
    )
    return html(page(f"Test {name}", view.session, body, nav="functions"))


async def invoke(view: View, name: str) -> Response:
    doc = view.req.json()
    payload = doc.get("payload", "")
    if not isinstance(payload, str):
        return _json_error("The event must be JSON text.")
    try:
        json.loads(payload or "{}")
    except ValueError as exc:
        return _json_error(f"The event is not valid JSON: {exc}")
    params: dict[str, object] = {
        "FunctionName": name,
        "Payload": (payload or "{}").encode(),
        "LogType": "Tail",
    }
    qualifier = doc.get("qualifier")
    if isinstance(qualifier, str) and qualifier.strip():
        if not _QUALIFIER.fullmatch(qualifier.strip()):
            return _json_error("A qualifier is a version number, $LATEST or an alias name.")
        params["Qualifier"] = qualifier.strip()
    try:
        out = await view.aws.lambda_(view.who, view.host, "Invoke", **params)
    except AwsError as exc:
        return json_response({"error": f"{exc.code}: {exc.message}"}, 200)
    log = log_text(base64.b64decode(out.get("LogResult") or b"").decode("utf-8", "replace"))
    report = next((ln for ln in log.splitlines() if ln.startswith("REPORT ")), "")
    result = out.get("Payload") or b""
    return json_response(
        {
            "statusCode": out.get("StatusCode"),
            "functionError": out.get("FunctionError"),
            "executedVersion": out.get("ExecutedVersion"),
            "payload": result.decode("utf-8", "replace")
            if isinstance(result, bytes)
            else str(result),
            "log": log,
            "report": report,
        }
    )


async def events(view: View, name: str) -> Response:
    """GET: the saved events; POST {name, payload}: save one; POST {name, delete: true}:
    delete it. Each answers the list as it is now."""
    scope = view.who.scope
    # Only a function the caller can see keeps test events.
    await view.aws.lambda_(view.who, view.host, "GetFunction", FunctionName=name)
    if view.req.method == "POST":
        doc = view.req.json()
        event_name, payload = doc.get("name"), doc.get("payload", "")
        if not isinstance(event_name, str) or not isinstance(payload, str):
            return _json_error("An event needs a name and a JSON payload.")
        if doc.get("delete") is True:
            await view.saved.delete(scope, name, event_name)
        else:
            try:
                json.loads(payload)
                await view.saved.save(scope, name, event_name, payload, view.now())
            except ValueError as exc:
                return _json_error(
                    str(exc)
                    if isinstance(exc, SavedEventError)
                    else f"The event is not valid JSON: {exc}"
                )
    saved = await view.saved.named(scope, name)
    return json_response({"events": [{"name": n, "payload": p} for n, p in saved]})
