"""Hostile input to every API lambdad serves beside Lambda's: EventBridge, Scheduler,
CloudWatch Logs, CloudWatch (query and RPC v2 CBOR), CloudFormation, API Gateway (v1
and v2), Elastic Load Balancing and CodeDeploy.

For each service, Hypothesis picks operations of botocore's model and sends them
properly signed but with random parameters: path segments, query values and bodies of
the wrong shapes and types, random JSON, random bytes. Every answer must be an answer
AWS could give (a 2xx, or a 4xx with an error type), never a 5xx, and the server must
write no traceback and still answer afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e.helpers import PRIMARY, LambdadServer, send, serving, sign_headers

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
REGION = "us-east-1"

# botocore service name -> (signing name, protocol lambdad answers it in)
SERVICES = {
    "events": ("events", "json"),
    "logs": ("logs", "json"),
    "scheduler": ("scheduler", "rest-json"),
    "apigatewayv2": ("apigateway", "rest-json"),
    "apigateway": ("apigateway", "rest-json"),
    "cloudformation": ("cloudformation", "query"),
    "cloudwatch": ("monitoring", "query"),
    "elbv2": ("elasticloadbalancing", "query"),
    "codedeploy": ("codedeploy", "json"),
}

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), words)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(words, inner, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    with serving(LambdadServer(tmp_path_factory.mktemp("fuzz-services") / "data")) as srv:
        yield srv
        assert srv.client().get_account_settings()["AccountLimit"]
    assert "Traceback" not in srv.stderr(), srv.stderr()


def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def _signed(
    server: LambdadServer,
    service: str,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, dict[str, str], bytes]:
    signing = SERVICES[service][0]
    url = server.endpoint + path
    signed = sign_headers(method, url, body, headers, PRIMARY, REGION, signing)
    resp = send(server.endpoint, method, path, body, signed)
    return resp.status, resp.headers, resp.body


def _assert_aws_answer(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status < 500, (status, body[:600])
    if status >= 400:
        # An error AWS's SDKs can read: a type in a header, a JSON/XML/CBOR body.
        assert headers.get("x-amzn-errortype") or body, (status, headers)


def _member_values(shape: Any, data: st.DataObject) -> dict[str, Any]:
    """Parameters for an input shape: each member present or not, of its own type or
    of any other."""
    out: dict[str, Any] = {}
    for name in shape.members if shape is not None else ():
        if data.draw(st.booleans()):
            out[name] = data.draw(documents)
    return out


@pytest.mark.parametrize("service", sorted(SERVICES))
@FUZZ
@given(data=st.data())
def test_every_operation_answers_random_parameters_as_aws_would(
    server: LambdadServer, service: str, data: st.DataObject
) -> None:
    model = _model(service)
    name = data.draw(st.sampled_from(sorted(model.operation_names)))
    op = model.operation_model(name)
    params = _member_values(op.input_shape, data)
    protocol = SERVICES[service][1]
    if protocol == "json":
        target = f"{model.metadata['targetPrefix']}.{name}"
        body = data.draw(
            st.one_of(st.just(json.dumps(params, default=str).encode()), st.binary(max_size=64))
        )
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        _assert_aws_answer(*_signed(server, service, "POST", "/", body, headers))
    elif protocol == "query":
        form = {"Action": name, "Version": model.api_version}
        form.update(
            {
                k: json.dumps(v, default=str) if not isinstance(v, str) else v
                for k, v in params.items()
            }
        )
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        _assert_aws_answer(*_signed(server, service, "POST", "/", body, headers))
    else:
        uri = op.http["requestUri"]
        path = re.sub(
            r"\{([^}+]+)\+?\}",
            lambda m: quote(str(data.draw(words)) or "x", safe=""),
            uri.split("?", 1)[0],
        )
        body = (
            json.dumps(params, default=str).encode()
            if op.http["method"] in ("POST", "PUT", "PATCH")
            else b""
        )
        headers = {"Content-Type": "application/json"}
        _assert_aws_answer(*_signed(server, service, op.http["method"], path, body, headers))


@FUZZ
@given(
    name=st.sampled_from(["GetMetricData", "ListMetrics", "PutMetricData", "DescribeAlarms"]),
    body=st.binary(max_size=200),
)
def test_cloudwatch_cbor_bodies_of_random_bytes_are_refused_cleanly(
    server: LambdadServer, name: str, body: bytes
) -> None:
    path = f"/service/GraniteServiceVersion20100801/operation/{name}"
    headers = {
        "Content-Type": "application/cbor",
        "Smithy-Protocol": "rpc-v2-cbor",
        "Accept": "application/cbor",
    }
    _assert_aws_answer(*_signed(server, "cloudwatch", "POST", path, body, headers))
