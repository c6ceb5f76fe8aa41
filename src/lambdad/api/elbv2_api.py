"""Elastic Load Balancing v2 (``elbv2``) over AWS's query protocol, signed for
``elasticloadbalancing``.

A request is a form (``Action=<Operation>&Version=2015-12-01&…``, in the body or the
query string) read into the operation's parameters by botocore's model
(``cloudwatch_shapes.from_query``: ``member.N`` lists, typed scalars) and checked
against the model's constraints as ELB reports them (``ValidationError``: "1 validation
error detected: Value '0' at 'priority' failed to satisfy constraint: …"); the
operation the platform registered (``lambdad.events.alb``, passed in as callables) runs
on a worker thread; its result is written as ``<OpResponse><OpResult>…`` XML. Errors
are ``<ErrorResponse>`` with ELB's code; anything unexpected is logged and answered 500
in the same XML shape (never another protocol's body).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ServiceModel

from lambdad.api.cloudwatch_shapes import BadValue, from_query, to_xml
from lambdad.api.constraints import ShapeChecker
from lambdad.api.context import RequestContext
from lambdad.errors import AwsError, ValidationException
from lambdad.model.scope import Scope

log = logging.getLogger(__name__)

NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
Params = dict[str, Any]
Operation = Callable[[Scope, Params], Params]
Offload = Callable[..., Awaitable[Any]]
Response = tuple[int, dict[str, str], bytes]
_XML = {"Content-Type": "text/xml"}


@functools.cache
def model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("elbv2")


@functools.cache
def checker() -> ShapeChecker:
    shapes = botocore.session.get_session().get_service_data("elbv2")["shapes"]
    return ShapeChecker(shapes, {})


class ElbApi:
    def __init__(
        self,
        operations: Mapping[str, Operation],
        offload: Offload,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.operations = dict(operations)
        self.offload = offload
        # Run after every operation that succeeded (listeners' own ports follow).
        self.after = after

    async def __call__(
        self, ctx: RequestContext, method: str, path: str, query: str, body: bytes
    ) -> Response:
        form = dict(parse_qsl(query, keep_blank_values=True))
        form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = form.get("Action", "")
        try:
            if action not in model().operation_names:
                return _error("InvalidAction", f"Could not find operation {action}", ctx)
            operation = self.operations.get(action)
            if operation is None:
                message = f"The operation {action} is not supported by lambdad yet."
                return _error("InvalidAction", message, ctx)
            op = model().operation_model(action)
            try:
                params = from_query(op.input_shape, form)
            except BadValue as exc:
                return _error("ValidationError", str(exc), ctx)
            if op.input_shape is not None:
                violations = checker().violations(op.input_shape.name, params)
                if violations:
                    detected = ValidationException.for_violations(violations).message
                    return _error("ValidationError", detected, ctx)
            result = await self.offload(operation, ctx.scope, params)
            if self.after is not None:
                await self.after()
            inner = to_xml(op.output_shape, result)
        except AwsError as exc:
            return _error(exc.code, exc.message, ctx, getattr(exc, "elb_status", 400))
        except Exception:
            log.exception("elbv2 %s failed in request %s", action, ctx.request_id)
            return _error("InternalFailure", "Internal failure", ctx, 500)
        out = (
            f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{inner}</{action}Result>'
            f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        return 200, dict(_XML), out.encode()


def _error(code: str, message: str, ctx: RequestContext, status: int = 400) -> Response:
    kind = "Receiver" if status >= 500 else "Sender"
    out = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{escape(code)}'
        f"</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{ctx.request_id}</RequestId></ErrorResponse>"
    )
    return status, dict(_XML), out.encode()
