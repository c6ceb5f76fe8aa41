"""The issue's "bad input" list walked through each HTTP front door: one function behind
a function URL, an HTTP API, a REST API and a load balancer (its own listener port
too), and requests no well-behaved client sends: invalid UTF-8 in the path, query and
text bodies, binary bodies, repeated query keys and headers, HEAD and OPTIONS, chunked
uploads, malformed HTTP, a 1 MB header and 10,000 headers; answers that are garbage,
too large, late, or for ALB carry a ``statusDescription``; WebSocket upgrades to ALB.
Each door answers as AWS does and the server keeps serving, with no traceback in its
log. Also Powertools' ``LambdaFunctionUrlResolver`` and ``ALBResolver`` served
unchanged."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from e2e.helpers import (
    POWERTOOLS_PET_ROUTES,
    PRIMARY,
    LambdadServer,
    free_port,
    handler_zip,
    permit_url,
    powertools_zip,
)

NewFunction = Callable[..., dict[str, Any]]
NewBalancer = Callable[[str], dict[str, Any]]

# What it answers depends on the path: the event (echo), garbage, over 1 MB, too late,
# or ALB's statusDescription.
CHAOS = """
import json, time
def handler(event, context):
    path = event.get('rawPath') or event.get('path') or ''
    if path.endswith('/garbage'):
        return {'statusCode': 'teapot', 'headers': ['x']}
    if path.endswith('/big'):
        return {'statusCode': 200, 'body': 'x' * (1024 * 1024 + 1)}
    if path.endswith('/late'):
        time.sleep(10)
    if path.endswith('/described'):
        return {'statusCode': 404, 'statusDescription': '404 Gone Fishing',
                'headers': {'Content-Type': 'text/plain'}, 'body': 'gone'}
    return {'statusCode': 200, 'headers': {'Content-Type': 'application/json'},
            'body': json.dumps(event)}
"""


@dataclass(frozen=True)
class Door:
    name: str
    base: str  # the URL the paths go after
    host: dict[str, str]  # the Host header that addresses it (or none)
    failed: tuple[int, bytes]  # its answer to a function that failed or answered garbage


def _public_url(lambdad: LambdadServer, name: str) -> str:
    """The function's URL, open to anyone (AuthType NONE and its permissions)."""
    client = lambdad.client()
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    permit_url(client, name)
    return str(url)


def _behind_balancer(
    lambdad: LambdadServer, balancer: dict[str, Any], name: str, arn: str, port: int
) -> dict[str, Any]:
    """``balancer`` forwarding to the function from a listener on ``port`` (its target
    group named after the balancer, and the permission it invokes with)."""
    elb = lambdad.client("elbv2")
    group = elb.create_target_group(Name=balancer["LoadBalancerName"], TargetType="lambda")
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    lambdad.client().add_permission(
        FunctionName=name, StatementId="elb", Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com", SourceArn=group_arn,
    )  # fmt: skip
    elb.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": arn}])
    elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
    )  # fmt: skip
    return balancer


def _doors(
    lambdad: LambdadServer, new_function: NewFunction, new_balancer: NewBalancer
) -> tuple[list[Door], int]:
    """The function behind the three doors; (the doors, the ALB listener's own port)."""
    function = new_function(handler_zip(CHAOS), Timeout=2)
    name, arn = function["FunctionName"], function["FunctionArn"]
    client = lambdad.client()
    url = _public_url(lambdad, name)
    api = lambdad.client("apigatewayv2").create_api(Name="bad", ProtocolType="HTTP", Target=arn)
    client.add_permission(
        FunctionName=name, StatementId="api", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api['ApiId']}/*",
    )  # fmt: skip
    port = free_port()
    balancer = _behind_balancer(lambdad, new_balancer(f"bad-{name[-8:]}"), name, arn, port)
    rest_api = _rest_api(lambdad, name, arn)
    alb_page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>"
    return [
        Door("url", lambdad.endpoint, {"Host": urlsplit(url).netloc},
             (502, b"Internal Server Error")),
        Door("http-api", f"{lambdad.endpoint}/execute-api/{api['ApiId']}", {},
             (500, b'{"message":"Internal Server Error"}')),
        Door("alb", lambdad.endpoint, {"Host": balancer["DNSName"]}, (502, alb_page)),
        Door("rest-api", f"{lambdad.endpoint}/execute-api/{rest_api}/prod", {},
             (502, b'{"message": "Internal server error"}')),
    ], port  # fmt: skip


def _rest_api(lambdad: LambdadServer, name: str, arn: str) -> str:
    """A REST API: ``ANY /{proxy+}`` to the function on stage ``prod``; binary and text
    bodies are binary media types (else REST APIs pass bodies as text)."""
    client = lambdad.client("apigateway")
    api_id: str = client.create_rest_api(
        name="bad", binaryMediaTypes=["application/octet-stream", "text/plain"]
    )["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]
    proxy = client.create_resource(restApiId=api_id, parentId=root["id"], pathPart="{proxy+}")
    client.put_method(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY",
                      authorizationType="NONE")  # fmt: skip
    uri = f"arn:aws:apigateway:{lambdad.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    client.put_integration(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY",
                           type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)  # fmt: skip
    client.create_deployment(restApiId=api_id, stageName="prod")
    lambdad.client().add_permission(
        FunctionName=name, StatementId="rest", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api_id}/*",
    )  # fmt: skip
    return api_id


def _raw(port: int, request: bytes) -> bytes:
    """What the server answers to bytes sent as they are (the status line and on)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _get(door: Door, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(door.base + path, headers={**door.host, **(headers or {})}, timeout=30)


def _repeated(port: int, door: Door) -> dict[str, str]:
    """The event's headers for a request that sends ``X-Twice`` twice."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = urlsplit(door.base).path + "/twice"
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", door.host.get("Host", f"127.0.0.1:{port}"))
    conn.putheader("X-Twice", "1")
    conn.putheader("X-Twice", "2")
    conn.endheaders()
    answer = conn.getresponse()
    event = json.loads(answer.read())
    conn.close()
    # REST APIs keep the names as spelled; the others lower-case them.
    return {name.lower(): value for name, value in event["headers"].items()}


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_bad_input_through_each_door(
    lambdad: LambdadServer, new_function: NewFunction, new_balancer: NewBalancer
) -> None:
    doors, listener_port = _doors(lambdad, new_function, new_balancer)
    for door in doors:
        # Invalid UTF-8 once decoded, repeated query keys and headers.
        odd = _get(door, "/%FF%FE/x?a=%FF&a=2&&=&b")
        assert odd.status_code == 200, (door.name, odd.text)
        event = odd.json()
        path = event.get("rawPath") or event.get("path")
        assert path.endswith("/%FF%FE/x"), (door.name, path)
        query = event["queryStringParameters"]
        # 2.0 joins a repeated key's values with commas; 1.0 and ALB keep the last.
        if door.name in ("url", "http-api"):
            assert query["a"].endswith(",2"), query
        else:  # 1.0 keeps the last value in queryStringParameters
            assert query["a"] == "2", query
        twice = _repeated(lambdad.port, door)
        # 2.0 joins a repeated header's values with commas; 1.0 and ALB keep the last.
        assert twice["x-twice"] == ("1,2" if door.name in ("url", "http-api") else "2"), twice
        # Binary bodies arrive base64 encoded.
        octets = {**door.host, "Content-Type": "application/octet-stream"}
        binary = requests.post(door.base + "/b", data=bytes(range(256)), headers=octets, timeout=30)
        assert binary.json()["isBase64Encoded"] is True, door.name
        assert base64.b64decode(binary.json()["body"]) == bytes(range(256)), door.name
        # A text body that is not UTF-8 cannot be sent as text: base64 too.
        text = {**door.host, "Content-Type": "text/plain"}
        latin = requests.post(door.base + "/t", data=b"caf\xe9 \xff", headers=text, timeout=30)
        assert latin.json()["isBase64Encoded"] is True, door.name
        assert base64.b64decode(latin.json()["body"]) == b"caf\xe9 \xff", door.name
        # A chunked upload arrives whole.
        chunks: Iterator[bytes] = iter([b'{"one":', b"1,", b'"two":2}'])
        as_json = {**door.host, "Content-Type": "application/json"}
        chunked = requests.post(door.base + "/c", data=chunks, headers=as_json, timeout=30)
        assert chunked.json()["body"] == '{"one":1,"two":2}', door.name
        head = requests.head(door.base + "/h", headers=door.host, timeout=30)
        assert (head.status_code, head.content) == (200, b""), door.name
        options = requests.options(door.base + "/o", headers=door.host, timeout=30)
        assert options.status_code == 200, door.name
        options_event = options.json()
        method = (
            options_event.get("httpMethod") or options_event["requestContext"]["http"]["method"]
        )
        assert method == "OPTIONS", door.name
        # Garbage and a function that times out: the door's own failure answer.
        for bad in ("/garbage", "/late"):
            failed = _get(door, bad)
            assert failed.status_code == door.failed[0], (door.name, bad, failed.text)
            assert failed.content.startswith(door.failed[1]), (door.name, bad, failed.content)
        big = _get(door, "/big")
        assert big.status_code == (502 if door.name == "alb" else 200), door.name

    # The transport's limits on the API port; the balancer's own on its listener port
    # (16 K a line, 64 K a head, ELB's 400 page for all of them).
    huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"
    assert _status(_raw(lambdad.port, b"GARBAGE\r\n\r\n")) == 400
    assert _status(_raw(lambdad.port, huge)) == 431
    assert _status(_raw(lambdad.port, many)) == 400
    line = b"GET / HTTP/1.1\r\nHost: x\r\nX-Line: " + b"a" * (16 * 1024) + b"\r\n\r\n"
    url = b"GET /" + b"u" * (16 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for bad in (b"GARBAGE\r\n\r\n", huge, many, line, url):
        refused = _raw(listener_port, bad)
        assert _status(refused) == 400, bad[:40]
        assert b"server: awselb/2.0" in refused.lower(), refused[:200]
    # Lines and heads within the balancer's bounds pass.
    fits = b"GET /fits HTTP/1.1\r\nHost: x\r\nX-Line: " + b"a" * (15 * 1024) + b"\r\n\r\n"
    assert _status(_raw(listener_port, fits)) == 200
    for door in doors:
        still = requests.get(door.base + "/still", headers=door.host, timeout=30)
        assert still.status_code == 200, door.name
    assert "Traceback" not in lambdad.stderr()


def test_alb_answers(
    lambdad: LambdadServer, new_function: NewFunction, new_balancer: NewBalancer
) -> None:
    doors, port = _doors(lambdad, new_function, new_balancer)
    alb = doors[2]
    described = _raw(port, b"GET /described HTTP/1.1\r\nHost: x\r\n\r\n")
    # statusDescription's reason phrase is the status line's.
    assert described.startswith(b"HTTP/1.1 404 Gone Fishing\r\n"), described[:80]
    plain = _raw(port, b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 200 OK\r\n"), plain[:80]
    # "WebSockets are not supported. Upgrade requests are rejected with an HTTP 400 code."
    upgrade = requests.get(alb.base + "/ws", timeout=30, headers={
        **alb.host, "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    })  # fmt: skip
    assert upgrade.status_code == 400
    assert b"400 Bad Request" in upgrade.content
    # TRACE is not supported (405); X-Forwarded-For names at most 30 addresses (463).
    trace = requests.request("TRACE", alb.base + "/t", headers=alb.host, timeout=30)
    assert trace.status_code == 405
    relayed = ", ".join(f"192.0.2.{i}" for i in range(31))
    forwarded = requests.get(alb.base + "/f", headers={**alb.host, "X-Forwarded-For": relayed},
                             timeout=30)  # fmt: skip
    assert forwarded.status_code == 463
    thirty = ", ".join(f"192.0.2.{i}" for i in range(30))
    assert requests.get(alb.base + "/f", headers={**alb.host, "X-Forwarded-For": thirty},
                        timeout=30).status_code == 200  # fmt: skip
    # A request body over 1 MB: 413.
    too_large = requests.post(alb.base + "/up", data=b"x" * (1024 * 1024 + 1), headers=alb.host,
                              timeout=30)  # fmt: skip
    assert too_large.status_code == 413
    assert requests.get(alb.base + "/still", headers=alb.host, timeout=30).status_code == 200


POWERTOOLS_APP = f"""
from aws_lambda_powertools.event_handler import ALBResolver, LambdaFunctionUrlResolver

url = LambdaFunctionUrlResolver()
alb = ALBResolver()
{POWERTOOLS_PET_ROUTES}

routes(url)
routes(alb)


def handler(event, context):
    return (alb if "elb" in event["requestContext"] else url).resolve(event, context)
"""


def test_powertools_url_and_alb_resolvers(
    lambdad: LambdadServer, new_function: NewFunction, new_balancer: NewBalancer
) -> None:
    function = new_function(powertools_zip(POWERTOOLS_APP), Timeout=30)
    name, arn = function["FunctionName"], function["FunctionArn"]
    url = _public_url(lambdad, name)
    balancer = _behind_balancer(lambdad, new_balancer(f"pt-{name[-8:]}"), name, arn, free_port())
    for host in (urlsplit(url).netloc, balancer["DNSName"]):
        headers = {"Host": host, "User-Agent": "pt"}
        got = requests.get(f"{lambdad.endpoint}/pets/7?q=a+b", headers=headers, timeout=60)
        assert got.status_code == 200, got.text
        assert got.json() == {"pet": "7", "q": "a b" if "elb" not in host else "a+b",
                              "agent": "pt"}  # fmt: skip
        posted = requests.post(f"{lambdad.endpoint}/pets", json={"name": "rex"},
                               headers={"Host": host}, timeout=60)  # fmt: skip
        assert (posted.status_code, posted.json()) == (201, {"got": {"name": "rex"}})
        assert (
            requests.get(f"{lambdad.endpoint}/cats", headers=headers, timeout=60).status_code == 404
        )
