"""Which route a WebSocket message takes (pure).

A WebSocket API's ``RouteSelectionExpression`` names a part of the message:
``$request.body.action`` (a JSON path into the message, dots between names), or a
template with such parts in ``${...}`` (``${request.body.kind}/${request.body.verb}``);
any other text is taken as it is. The message's value there is the route key when the
API has a route of that key; otherwise the message goes to ``$default``, and to no
route at all when the API has none (the client is told ``Forbidden``). A message that
is not a JSON object, or lacks the value, goes to ``$default`` as well.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Final

from lambdad.events.websocket.names import DEFAULT

_BODY: Final = "$request.body."
_TEMPLATE: Final = re.compile(r"\$\{request\.body\.([^}]*)\}")
_MISSING: Final = object()


def valid_expression(expression: str) -> bool:
    """Whether API Gateway takes ``expression`` as a WebSocket route selection."""
    if expression.startswith(_BODY):
        return bool(expression[len(_BODY) :])
    return bool(expression) and "$request" not in _TEMPLATE.sub("", expression)


def select(expression: str, message: str, route_keys: Collection[str]) -> str | None:
    """The route key ``message`` takes, or None when the API has no route for it."""
    key = evaluate(expression, message)
    if key is not None and key in route_keys and key not in (DEFAULT,):
        return key
    return DEFAULT if DEFAULT in route_keys else None


def evaluate(expression: str, message: str) -> str | None:
    """The expression's value for ``message`` (None: the message has none)."""
    if expression.startswith(_BODY):
        return _as_key(_lookup(_document(message), expression[len(_BODY) :]))
    if "${" not in expression:
        return expression
    document = _document(message)
    missing = False

    def part(match: re.Match[str]) -> str:
        nonlocal missing
        value = _as_key(_lookup(document, match.group(1)))
        if value is None:
            missing = True
            return ""
        return value

    key = _TEMPLATE.sub(part, expression)
    return None if missing else key


def _document(message: str) -> Any:
    try:
        return json.loads(message)
    except (ValueError, RecursionError):
        return _MISSING


def _lookup(document: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(document, dict) or name not in document:
            return _MISSING
        document = document[name]
    return document


def _as_key(value: Any) -> str | None:
    if value is _MISSING or value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)
