"""The rest-json wire protocol, server side, driven by botocore's service models.

botocore describes every operation of a service: its HTTP method and URI template,
where each input member lives (URI, query string, header, body), the constraints on
each shape, and where each output member goes. This module reads that model once
and gives the server three things: a router from (method, path) to an operation, a
parser that turns a request into the same parameter dict a boto3 caller passed, and
a serializer for the operation's output. Constraint violations (``constraints.py``
checks them) become the ``ValidationException`` AWS answers with.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.loaders

from lambdad.api.constraints import Shape, ShapeChecker, camel
from lambdad.errors import (
    InvalidRequestContentException,
    UnsupportedMediaTypeException,
    ValidationException,
)


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    path_regex: re.Pattern[str]
    path_params: tuple[str, ...]
    fixed_query: tuple[tuple[str, str | None], ...]
    status: int
    input_shape: str | None
    output_shape: str | None
    literal_segments: int


@dataclass(slots=True)
class ServiceModel:
    """One botocore service model, indexed for serving."""

    name: str
    shapes: dict[str, Shape]
    operations: dict[str, Operation] = field(default_factory=dict)
    # A constraint AWS enforces that the published model leaves out (or states looser).
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, service: str, api_version: str | None = None) -> ServiceModel:
        raw = botocore.loaders.Loader().load_service_model(service, "service-2", api_version)
        model = cls(name=service, shapes=raw["shapes"])
        for name, op in raw["operations"].items():
            model.operations[name] = _compile_operation(name, op)
        return model

    def route(
        self, method: str, path: str, query: Mapping[str, str]
    ) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` and its URI parameters, still encoded."""
        best: tuple[Operation, dict[str, str]] | None = None
        for op in self.operations.values():
            if op.method != method:
                continue
            m = op.path_regex.fullmatch(path)
            if m is None:
                continue
            if any(k not in query or (v is not None and query[k] != v) for k, v in op.fixed_query):
                continue
            rank = (len(op.fixed_query), op.literal_segments)
            if best is None or rank > (len(best[0].fixed_query), best[0].literal_segments):
                best = (op, m.groupdict())
        return best

    # -- requests ---------------------------------------------------------------------

    def parse_request(
        self,
        op: Operation,
        uri_params: Mapping[str, str],
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The parameters the caller passed, validated against the model."""
        if op.input_shape is None:
            return {}
        shape = self.shapes[op.input_shape]
        params: dict[str, Any] = {}
        body_members: dict[str, str] = {}
        payload_member = shape.get("payload")
        for member, ref in shape["members"].items():
            loc = ref.get("location")
            wire = ref.get("locationName", member)
            target = self.shapes[ref["shape"]]
            if loc == "uri":
                if wire in uri_params:
                    # Typed like the model says (a layer's VersionNumber is a long).
                    params[member] = self._from_text(target, [unquote(uri_params[wire])], member)
            elif loc == "querystring":
                values = [v for k, v in query if k == wire]
                if values:
                    params[member] = self._from_text(target, values, member)
            elif loc == "header":
                value = headers.get(wire.lower())
                if value is not None:
                    params[member] = self._from_text(target, [value], member)
            elif loc in ("headers", "statusCode"):
                continue
            elif member == payload_member:
                if target["type"] in ("blob", "string"):
                    params[member] = body
                elif body:
                    params[member] = self._decode_json(body)
            else:
                body_members[member] = ref["shape"]
        if body_members and payload_member is None and body:
            doc = self._decode_json(body)
            if not isinstance(doc, dict):
                raise InvalidRequestContentException(
                    "Could not parse request body into json: Could not parse payload into json"
                )
            for member in body_members:
                if member in doc and doc[member] is not None:
                    params[member] = doc[member]
        violations = ShapeChecker(self.shapes, self.overrides).violations(op.input_shape, params)
        if violations:
            raise ValidationException.for_violations(violations)
        return params

    @staticmethod
    def _decode_json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise InvalidRequestContentException(
                "Could not parse request body into json: Could not parse payload into json: "
                f"{str(exc).splitlines()[0]}"
            ) from None

    def _from_text(self, shape: Shape, values: list[str], member: str) -> Any:
        kind = shape["type"]
        if kind == "list":
            inner = self.shapes[shape["member"]["shape"]]
            return [self._from_text(inner, [v], member) for v in values]
        value = values[-1]
        if kind in ("integer", "long"):
            try:
                return int(value)
            except ValueError:
                raise ValidationException.for_violations(
                    [
                        f"Value '{value}' at '{camel(member)}' failed to satisfy constraint: "
                        "Member must be a number"
                    ]
                ) from None
        if kind == "boolean":
            return value.lower() == "true"
        if kind == "blob":
            return base64.b64decode(value)
        return value

    # -- responses ----------------------------------------------------------------------

    def serialize_response(
        self, op: Operation, result: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for an operation's output dict."""
        status = op.status
        headers: dict[str, str] = {}
        if op.output_shape is None:
            return status, headers, b""
        shape = self.shapes[op.output_shape]
        payload_member = shape.get("payload")
        doc: dict[str, Any] = {}
        raw: bytes | None = None
        for member, ref in shape["members"].items():
            if member not in result or result[member] is None:
                continue
            value = result[member]
            loc = ref.get("location")
            if loc == "header":
                headers[ref.get("locationName", member)] = str(value)
            elif loc == "statusCode":
                status = int(value)
            elif member == payload_member:
                if isinstance(value, bytes):
                    raw = value  # as given: a StreamedBody stays one
                elif isinstance(value, (bytearray, memoryview)):
                    raw = bytes(value)
                else:
                    raw = json.dumps(value, separators=(",", ":")).encode()
            else:
                doc[member] = value
        if raw is not None or payload_member is not None:
            # An output with a payload member has exactly that body, even when empty.
            return status, headers, raw if raw is not None else b""
        if status == 204 and not doc:
            return status, headers, b""
        return status, headers, json.dumps(doc, separators=(",", ":")).encode()


def _compile_operation(name: str, op: dict[str, Any]) -> Operation:
    uri: str = op["http"]["requestUri"]
    path, _, query = uri.partition("?")
    fixed: list[tuple[str, str | None]] = []
    for part in query.split("&") if query else []:
        key, eq, val = part.partition("=")
        fixed.append((key, val if eq else None))
    names: list[str] = []
    pattern = ""
    literal = 0
    for segment in path.strip("/").split("/"):
        pattern += "/"
        m = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if m:
            names.append(m.group(1))
            pattern += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
        else:
            literal += 1
            pattern += re.escape(segment)
    return Operation(
        name=name,
        method=op["http"]["method"],
        path_regex=re.compile(pattern + "/?"),
        path_params=tuple(names),
        fixed_query=tuple(fixed),
        status=op["http"].get("responseCode", 200),
        input_shape=op.get("input", {}).get("shape"),
        output_shape=op.get("output", {}).get("shape"),
        literal_segments=literal,
    )


def require_json_content(headers: Mapping[str, str]) -> None:
    """AWS refuses bodies it cannot read as JSON by their declared media type."""
    ctype = headers.get("content-type", "")
    if ctype and "json" not in ctype and "octet-stream" not in ctype and "text" not in ctype:
        raise UnsupportedMediaTypeException(f"Unsupported Media Type: {ctype}")


def parse_query(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)
