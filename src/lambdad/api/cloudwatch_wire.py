"""The three protocols CloudWatch clients speak, and CloudWatch's errors in each.

- Smithy RPC v2 CBOR (botocore >= 1.40): ``POST /service/GraniteServiceVersion20100801/
  operation/<Op>``, ``smithy-protocol: rpc-v2-cbor``, CBOR bodies.
- awsJson 1.0 (the AWS CLI v1's vendored botocore): ``X-Amz-Target:
  GraniteServiceVersion20100801.<Op>``, JSON bodies, ``x-amzn-query-mode: true``.
- The query protocol (older botocore and SDKs): form-encoded ``Action=<Op>``, XML.

CBOR and JSON errors carry ``__type`` (the error shape's name) and ``message``, with
``x-amzn-query-error: <query code>;Sender`` so query-compatible clients read the same
code as the XML ``<Error><Code>`` of the query protocol.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import cbor2
from botocore.model import OperationModel

from lambdad.api.cloudwatch_shapes import BadValue, from_document, from_query, model, to_xml
from lambdad.errors import LambdadError

TARGET_PREFIX = "GraniteServiceVersion20100801"
NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
_CBOR_PATH = re.compile(rf"/service/{TARGET_PREFIX}/operation/([A-Za-z]+)")

Response = tuple[int, dict[str, str], bytes]


class Protocol(enum.Enum):
    CBOR = "rpc-v2-cbor"
    JSON = "json"
    QUERY = "query"


class CloudWatchError(LambdadError):
    """An error as CloudWatch answers it: its shape's name, its query code, a message."""

    def __init__(self, shape: str, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.shape, self.code, self.message, self.status = shape, code, message, status


def invalid(message: str) -> CloudWatchError:
    return CloudWatchError("InvalidParameterValueException", "InvalidParameterValue", message)


def missing(name: str) -> CloudWatchError:
    return CloudWatchError(
        "MissingRequiredParameterException",
        "MissingParameter",
        f"The parameter {name} is required.",
    )


def combination(message: str) -> CloudWatchError:
    return CloudWatchError(
        "InvalidParameterCombinationException", "InvalidParameterCombination", message
    )


def detect(path: str, headers: Mapping[str, str], query: str, body: bytes) -> tuple[Protocol, str]:
    """The protocol of a request and the operation it names ("" when none)."""
    m = _CBOR_PATH.fullmatch(path.partition("?")[0])
    if m is not None or "smithy-protocol" in headers:
        return Protocol.CBOR, m.group(1) if m else ""
    target = headers.get("x-amz-target")
    if target is not None:
        prefix, _, op = target.partition(".")
        return Protocol.JSON, op if prefix == TARGET_PREFIX else ""
    form = dict(parse_qsl(query)) | dict(_form(body))
    return Protocol.QUERY, form.get("Action", "")


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise invalid("The request body is not form-encoded text") from None


def decode(protocol: Protocol, op: OperationModel, query: str, body: bytes) -> dict[str, Any]:
    try:
        if protocol is Protocol.QUERY:
            params = dict(parse_qsl(query, keep_blank_values=True)) | dict(_form(body))
            return from_query(op.input_shape, params)
        if not body:
            return {}
        doc = cbor2.loads(body) if protocol is Protocol.CBOR else json.loads(body)
        return from_document(op.input_shape, doc) if op.input_shape else {}
    except BadValue as exc:
        raise invalid(str(exc)) from None
    except (cbor2.CBORDecodeError, ValueError, RecursionError):
        raise CloudWatchError(
            "SerializationException", "SerializationException", "Could not parse the request body"
        ) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def encode(
    protocol: Protocol, op: OperationModel, result: dict[str, Any], request_id: str
) -> Response:
    if protocol is Protocol.CBOR:
        body = cbor2.dumps(result, datetime_as_timestamp=True, timezone=UTC)
        return 200, {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, body
    if protocol is Protocol.JSON:
        body = json.dumps(_jsonable(result), separators=(",", ":")).encode()
        return 200, {"content-type": "application/x-amz-json-1.0"}, body
    name = op.name
    inner = ""
    if op.output_shape is not None:
        inner = f"<{name}Result>{to_xml(op.output_shape, result)}</{name}Result>"
    xml = (
        f'<{name}Response xmlns="{NAMESPACE}">{inner}<ResponseMetadata><RequestId>'
        f"{request_id}</RequestId></ResponseMetadata></{name}Response>"
    )
    return 200, {"content-type": "text/xml"}, xml.encode()


def encode_error(protocol: Protocol, err: CloudWatchError, request_id: str) -> Response:
    sender = "Sender" if err.status < 500 else "Receiver"
    if protocol is Protocol.QUERY:
        # An error CloudWatch words with nothing (SetAlarmState's ResourceNotFound) has
        # no <Message> at all.
        message = f"<Message>{_escape(err.message)}</Message>" if err.message else ""
        xml = (
            f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{sender}</Type><Code>{err.code}'
            f"</Code>{message}</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return err.status, {"content-type": "text/xml"}, xml.encode()
    doc = {"__type": f"com.amazonaws.cloudwatch#{err.shape}", "message": err.message}
    headers = {"x-amzn-query-error": f"{err.code};{sender}"}
    if protocol is Protocol.CBOR:
        headers |= {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        return err.status, headers, cbor2.dumps(doc)
    headers["content-type"] = "application/x-amz-json-1.0"
    return err.status, headers, json.dumps(doc).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def operation(name: str) -> OperationModel | None:
    try:
        return model().operation_model(name)
    except Exception:  # botocore's OperationNotFoundError
        return None
