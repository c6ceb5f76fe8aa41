"""CloudWatch's values in and out of its three wire formats, by botocore's model.

Requests: the query protocol's flat form (``Dimensions.member.1.Name=...``) is nested
and typed by the operation's input shape (``from_query``); a JSON or CBOR document is
typed the same way (``from_document``: timestamps as epoch numbers, CBOR's tagged
times, ISO 8601 text). Handlers see timestamps as aware ``datetime``s.
Responses: ``to_xml`` writes the query protocol's XML (lists as ``<member>``, maps as
``<entry><key/><value/></entry>``); JSON and CBOR take the handler's dict as it is
(``wire`` turns its datetimes into numbers or CBOR times).
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ServiceModel, Shape

from lambdad.errors import LambdadError


class BadValue(LambdadError):
    """A request value that does not fit its shape (answered InvalidParameterValue)."""


@functools.cache
def model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudwatch")


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"Invalid timestamp: {text}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _scalar(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    try:
        if kind == "timestamp":
            return parse_time(value)
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            out = float(value)
            if math.isnan(out) or math.isinf(out):
                raise BadValue(f"The value {value} is not a valid number")
            return out
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except (TypeError, ValueError, OverflowError):
        raise BadValue(f"Invalid value for a {kind}: {value!r}") from None
    return value if isinstance(value, str) else str(value)


def from_document(shape: Shape | None, value: Any) -> Any:
    """A decoded JSON or CBOR value, typed by ``shape`` (unknown members dropped)."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise BadValue(f"Expected a structure for {shape.name}")
        members = shape.members
        # A member sent as null is a member not sent (not the text "None").
        return {
            k: from_document(members[k], v)
            for k, v in value.items()
            if k in members and v is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise BadValue(f"Expected a list for {shape.name}")
        return [from_document(shape.member, v) for v in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise BadValue(f"Expected a map for {shape.name}")
        return {str(k): from_document(shape.value, v) for k, v in value.items()}
    return _scalar(shape, value)


def from_query(shape: Shape | None, params: dict[str, str]) -> dict[str, Any]:
    """The query protocol's flat parameters, nested and typed by the input shape."""
    tree: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("Action", "Version"):
            continue
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BadValue(f"Invalid parameter {key}")
        node[parts[-1]] = value
    return _typed(shape, tree) if shape is not None else {}


def _typed(shape: Shape, node: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(node, dict):
            raise BadValue(f"Expected a structure for {shape.name}")
        members = shape.members
        return {k: _typed(members[k], v) for k, v in node.items() if k in members}
    if kind == "list":
        items = node.get("member", {}) if isinstance(node, dict) else {}
        if not isinstance(items, dict) or not all(k.isdigit() for k in items):
            raise BadValue(f"Invalid list for {shape.name}")
        return [_typed(shape.member, items[k]) for k in sorted(items, key=int)]
    if kind == "map":
        entries = node.get("entry", {}) if isinstance(node, dict) else {}
        return {
            str(e.get("key")): _typed(shape.value, e.get("value"))
            for _, e in sorted(entries.items(), key=lambda kv: int(kv[0]))
        }
    if isinstance(node, dict):
        raise BadValue(f"Invalid value for {shape.name}")
    return _scalar(shape, node)


def _time_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_xml(shape: Shape | None, value: Any) -> str:
    """The members of a response structure as the query protocol writes them."""
    if shape is None or value is None:
        return ""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return "".join(
            f"<{k}>{to_xml(members[k], v)}</{k}>" for k, v in value.items() if v is not None
        )
    if kind == "list":
        return "".join(f"<member>{to_xml(shape.member, v)}</member>" for v in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{to_xml(shape.value, v)}</value></entry>"
            for k, v in value.items()
        )
    if kind == "timestamp":
        return _time_text(value)
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))
