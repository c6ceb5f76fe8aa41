"""Hostile input: whatever arrives, lambdad answers with an AWS error and keeps running.

Hypothesis sends malformed JSON, values of the wrong type, huge strings, random
bytes and hostile archives as code, and unsigned, forged or tampered requests to
every implemented route of the Lambda API (invocation is fuzzed by its own
tests). Every answer must be an AWS-shaped answer, never a 5xx, and the server
must still answer a plain GetAccountSettings afterwards.

The server here is this module's own, so random DeleteFunction calls can harm no
other test.
"""

from __future__ import annotations

import base64
import json
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import botocore.loaders
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from e2e.helpers import (
    OTHER,
    PRIMARY,
    LambdadServer,
    Response,
    TestCredential,
    handler_zip,
    make_zip,
    role_for,
    send,
    serving,
    sign_headers,
    signing_clock,
)
from lambdad.api.routes import OPERATIONS

ACCOUNT = PRIMARY.account_id
TARGET = "fuzz-target"
TARGET_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{TARGET}"
# Invocation runs code; its own tests fuzz it.
NOT_FUZZED_HERE = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    uri: str  # botocore's requestUri, e.g. /2015-03-31/functions/{FunctionName}/code
    query_members: tuple[str, ...]
    body_members: tuple[str, ...]


def _routes() -> list[Route]:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    implemented = sorted(OPERATIONS)
    routes = []
    for name in implemented:
        if name in NOT_FUZZED_HERE or name not in model["operations"]:
            continue
        op = model["operations"][name]
        members = model["shapes"][op["input"]["shape"]]["members"] if "input" in op else {}
        routes.append(
            Route(
                name,
                op["http"]["method"],
                op["http"]["requestUri"],
                tuple(
                    m.get("locationName", k)
                    for k, m in members.items()
                    if m.get("location") == "querystring"
                ),
                tuple(k for k, m in members.items() if "location" not in m),
            )
        )
    return routes


ROUTES = _routes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    with serving(LambdadServer(tmp_path_factory.mktemp("fuzz") / "data")) as srv:
        # The same function in both accounts: the request fuzzers sign as PRIMARY and
        # may well delete theirs; the archive test updates OTHER's, which they never touch.
        for account in (PRIMARY.account_id, OTHER.account_id):
            srv.client(account=account).create_function(
                FunctionName=TARGET,
                Runtime="python3.12",
                Role=role_for(account),
                Handler="app.handler",
                Code={"ZipFile": handler_zip()},
            )
        yield srv
        assert srv.client().get_account_settings()["AccountLimit"]
    assert "Traceback" not in srv.stderr(), srv.stderr()


def assert_aws_answer(resp: Response, *, success_allowed: bool) -> None:
    """An answer AWS could have given: never a 5xx, errors in AWS's shape."""
    assert resp.status < 500, (resp.status, resp.body[:1000])
    assert resp.headers.get("x-amzn-requestid"), resp.headers
    if resp.status >= 400:
        assert resp.error_type, resp.headers
        assert resp.headers["content-type"].startswith("application/json")
        doc = resp.json()
        assert isinstance(doc, dict)
        assert doc["Type"] in ("User", "Service")
        assert isinstance(doc.get("message", doc.get("Message")), str)
        assert "code" not in doc
    else:
        assert success_allowed, (resp.status, resp.body[:1000])
        if resp.body:
            json.loads(resp.body)


def still_serving(server: LambdadServer) -> None:
    assert server.client().get_account_settings()["AccountUsage"]["FunctionCount"] >= 0


# -- strategies --------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

# Pagination markers are opaque base64 tokens: forge some.
markers = st.text(max_size=20).map(lambda t: base64.urlsafe_b64encode(t.encode()).decode())

huge_strings = st.integers(min_value=10_000, max_value=1_500_000).map(lambda n: "x" * n)

function_names = st.one_of(
    st.sampled_from(
        [
            TARGET,
            TARGET_ARN,
            f"{ACCOUNT}:function:{TARGET}",
            f"{TARGET}:$LATEST",
            f"{TARGET}:1",
            "does-not-exist",
            TARGET_ARN.replace("us-east-1", "eu-west-1"),
            "arn:aws:lambda:us-east-1:999999999999:function:x",
            "..",
            ".",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "-_:$.", min_size=1, max_size=80),
    st.text(min_size=1, max_size=100),
    st.integers(min_value=65, max_value=6000).map(lambda n: "f" * n),
)


@st.composite
def paths(draw: st.DrawFn, route: Route) -> str:
    def fill(match: re.Match[str]) -> str:
        value = draw(function_names)
        return quote(value, safe=draw(st.sampled_from(["", ":", "$:"])))

    path = re.sub(r"\{(\w+)\+?\}", fill, route.uri.split("?")[0])
    params: list[tuple[str, str]] = []
    fixed = route.uri.partition("?")[2]
    for part in fixed.split("&") if fixed else []:
        key, _, value = part.partition("=")
        params.append((key, value))
    if route.query_members:
        for key in draw(st.lists(st.sampled_from(route.query_members), max_size=3)):
            value = draw(st.one_of(st.text(max_size=40), st.integers().map(str), markers))
            params.append((key, value))
    if draw(st.booleans()):
        params.append((draw(st.text(min_size=1, max_size=10)), draw(st.text(max_size=10))))
    return path + ("?" + urlencode(params) if params else "")


@st.composite
def bodies(draw: st.DrawFn, route: Route) -> bytes:
    kind = draw(
        st.sampled_from(["empty", "bytes", "broken-json", "json", "members", "huge", "deep"])
    )
    if kind == "empty":
        return b""
    if kind == "deep":
        depth = draw(st.integers(min_value=100, max_value=100_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        member = draw(st.sampled_from(route.body_members or ("FunctionName",)))
        return f'{{"{member}": {opener * depth}1{closer * depth}}}'.encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "broken-json":
        text = json.dumps(draw(json_values))
        cut = draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))
        return (text[:cut] + draw(st.sampled_from(["", "{", "}", ",", '"', "\\"]))).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    members = route.body_members or ("FunctionName",)
    doc = draw(st.fixed_dictionaries({}, optional={m: json_values for m in members}))
    if kind == "huge":
        doc[draw(st.sampled_from(members))] = draw(huge_strings)
    return json.dumps(doc).encode()


content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/x-amz-json-1.1",
        "application/octet-stream",
        "text/html",
        "multipart/form-data; boundary=x",
        "\u00e9/\u00e9",
    ]
)


def _headers(ctype: str | None) -> dict[str, str]:
    return {} if ctype is None else {"Content-Type": ctype.encode().decode("latin-1")}


# -- the properties ------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_signed_garbage_gets_an_aws_error_never_a_5xx(
    server: LambdadServer, data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    path = data.draw(paths(route), label="path")
    body = data.draw(bodies(route), label="body")
    headers = _headers(data.draw(content_types, label="content-type"))
    resp = server.request(route.method, path, body, headers)
    assert_aws_answer(resp, success_allowed=True)


@FUZZ
@given(data=st.data())
def test_unauthenticated_requests_get_403_on_every_route(
    server: LambdadServer, data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    path = data.draw(paths(route), label="path")
    body = data.draw(bodies(route), label="body")
    mode = data.draw(
        st.sampled_from(
            [
                "unsigned",
                "unknown-key",
                "wrong-secret",
                "tampered-body",
                "tampered-path",
                "stale",
                "garbage-header",
            ]
        ),
        label="mode",
    )
    headers: dict[str, str] = {}
    expected = {
        "unsigned": "MissingAuthenticationTokenException",
        "unknown-key": "UnrecognizedClientException",
    }.get(mode, "")
    if mode == "unknown-key":
        stranger = TestCredential("AKIDSTRANGER00000000", "x", ACCOUNT)
        headers = sign_headers(
            route.method, server.endpoint + path, body, {}, stranger, "us-east-1"
        )
    elif mode == "wrong-secret":
        forger = TestCredential(PRIMARY.access_key_id, "not-the-secret", ACCOUNT)
        headers = sign_headers(route.method, server.endpoint + path, body, {}, forger, "us-east-1")
    elif mode in ("tampered-body", "tampered-path"):
        headers = sign_headers(route.method, server.endpoint + path, body, {}, PRIMARY, "us-east-1")
        if mode == "tampered-body":
            body += data.draw(st.binary(min_size=1, max_size=20), label="extra")
        else:
            path = "/tampered" + path
    elif mode == "stale":
        minutes = data.draw(st.integers(min_value=16, max_value=60 * 24 * 400), label="minutes")
        sign = data.draw(st.sampled_from([-1, 1]), label="direction")
        with signing_clock(datetime.now(UTC) + sign * timedelta(minutes=minutes)):
            headers = sign_headers(
                route.method, server.endpoint + path, body, {}, PRIMARY, "us-east-1"
            )
    elif mode == "garbage-header":
        headers = {
            "Authorization": data.draw(
                st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=200),
                label="authorization",
            ),
            "X-Amz-Date": data.draw(st.sampled_from(["20240101T000000Z", "yesterday", ""])),
        }
    resp = send(server.endpoint, route.method, path, body, headers)
    assert resp.status == 403, (mode, resp.status, resp.body[:500])
    assert_aws_answer(resp, success_allowed=False)
    if expected:
        assert resp.error_type == expected


@st.composite
def hostile_archives(draw: st.DrawFn) -> tuple[str, bytes]:
    """(kind, archive): random bytes, an escaping member name, or a zip with bytes flipped."""
    kind = draw(st.sampled_from(["random", "traversal", "mangled"]))
    if kind == "random":
        data: bytes = draw(st.binary(max_size=2000))
        assume(b"PK" not in data)
        return kind, data
    if kind == "traversal":
        prefix = draw(st.sampled_from(["../", "../../", "/", "/tmp/", "a/../../", "..\\", "C:/"]))
        tail = draw(st.text(alphabet=string.ascii_letters + "._", min_size=1, max_size=30))
        return kind, make_zip({"app.py": "x = 1\n", prefix + tail: draw(st.binary(max_size=50))})
    good = bytearray(handler_zip())
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        good[draw(st.integers(min_value=0, max_value=len(good) - 1))] = draw(
            st.integers(min_value=0, max_value=255)
        )
    return kind, bytes(good)


@settings(FUZZ, max_examples=150)
@given(hostile=hostile_archives(), update=st.booleans())
def test_hostile_archives_are_refused_with_invalid_parameter_value(
    server: LambdadServer, hostile: tuple[str, bytes], update: bool
) -> None:
    kind, archive = hostile
    encoded = base64.b64encode(archive).decode()
    if update:
        path, method = f"/2015-03-31/functions/{TARGET}/code", "PUT"
        doc: dict[str, Any] = {"ZipFile": encoded, "DryRun": False}
    else:
        path, method = "/2015-03-31/functions", "POST"
        doc = {
            "FunctionName": "hostile",
            "Runtime": "python3.12",
            "Role": role_for(OTHER.account_id),
            "Handler": "app.handler",
            "Code": {"ZipFile": encoded},
        }
    resp = server.request(method, path, json.dumps(doc), credential=OTHER)
    # A byte flipped in a file's contents (not its headers) can leave a readable zip.
    assert_aws_answer(resp, success_allowed=kind == "mangled")
    if resp.status >= 400:
        assert (resp.status, resp.error_type) == (400, "InvalidParameterValueException"), resp.body[
            :500
        ]
    elif not update:
        server.client(account=OTHER.account_id).delete_function(FunctionName="hostile")


def test_server_survived_the_fuzzing(server: LambdadServer) -> None:
    still_serving(server)
