"""AWS's query protocol, as botocore's model of a service describes it: a form-encoded
request read into the operation's parameters, a result written as the XML response
(and errors as ``ErrorResponse``). Used by the CloudFormation subset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape


def read_form(body: bytes, query_string: str) -> dict[str, str]:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def parse(op: OperationModel, form: Mapping[str, str]) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    value = _parse(shape, form, "")
    return value if isinstance(value, dict) else {}


def _parse(shape: Shape, form: Mapping[str, str], key: str) -> Any:
    if isinstance(shape, StructureShape):
        out = {}
        for name, member in shape.members.items():
            sub = f"{key}.{name}" if key else name
            value = _parse(member, form, sub)
            if value is not None:
                out[name] = value
        return out if out or not key else None
    if isinstance(shape, ListShape):
        items = []
        i = 1
        while any(k.startswith(f"{key}.member.{i}") for k in form):
            items.append(_parse(shape.member, form, f"{key}.member.{i}"))
            i += 1
        if not items and form.get(key) == "":
            return []
        return items or None
    if isinstance(shape, MapShape):
        entries = {}
        i = 1
        while f"{key}.entry.{i}.key" in form:
            entries[form[f"{key}.entry.{i}.key"]] = _parse(
                shape.value, form, f"{key}.entry.{i}.value"
            )
            i += 1
        return entries or None
    raw = form.get(key)
    if raw is None:
        return None
    if shape.type_name == "boolean":
        return raw.lower() == "true"
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def response(op: OperationModel, result: Mapping[str, Any], request_id: str, xmlns: str) -> bytes:
    inner = ""
    shape = op.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
        inner = f"<{wrapper}>{_members(shape, result)}</{wrapper}>"
    text = (
        f'<{op.name}Response xmlns="{xmlns}">{inner}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{op.name}Response>"
    )
    return text.encode()


def error(code: str, message: str, request_id: str, xmlns: str, *, sender: bool = True) -> bytes:
    return (
        f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def _members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            parts.append(f"<{name}>{_value(member, value[name])}</{name}>")
    return "".join(parts)


def _value(shape: Shape, value: Any) -> str:
    if isinstance(shape, StructureShape):
        return _members(shape, value)
    if isinstance(shape, ListShape):
        return "".join(f"<member>{_value(shape.member, v)}</member>" for v in value)
    if isinstance(shape, MapShape):
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{_value(shape.value, v)}</value></entry>"
            for k, v in value.items()
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))
