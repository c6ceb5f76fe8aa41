"""Function URLs served end to end: a real server, functions and URLs made with boto3,
requests sent with ``requests`` (and curl) to the ``*.localhost`` host form and the
``/lambda-url/<id>/`` path form; the event a function sees, the answers it gives,
authorization (NONE with and without the permission, AWS_IAM signed and unsigned),
CORS, and a deleted URL."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from e2e.helpers import AWS_CLI, OTHER, LambdadServer, handler_zip, permit_url, sign_headers

NewFunction = Callable[..., dict[str, Any]]

STRUCTURED = """
import base64
def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"X-Answer": "42", "Content-Type": "image/png"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": base64.b64encode(b"\\x89PNG\\x00\\xff").decode(),
        "isBase64Encoded": True,
    }
"""
FAILING = "def handler(event, context):\n    raise ValueError('boom')\n"


def _url(lambdad: LambdadServer, new_function: NewFunction, source: str | None = None,
         *, auth: str = "NONE", permit: bool = True, **config: Any) -> tuple[str, str]:  # fmt: skip
    """A function with a URL: (FunctionUrl, function name)."""
    client = lambdad.client()
    name = new_function(handler_zip(source) if source else None)["FunctionName"]
    url = client.create_function_url_config(FunctionName=name, AuthType=auth, **config)
    if permit:
        permit_url(client, name, auth)
    return url["FunctionUrl"], name


def _host_form(url: str, lambdad: LambdadServer, path: str = "/") -> tuple[str, dict[str, str]]:
    """The loopback address and Host header of ``url`` (the resolver here does not
    resolve ``*.localhost``; a request to 127.0.0.1 with that Host is the same)."""
    return f"{lambdad.endpoint}{path}", {"Host": urlsplit(url).netloc}


def _path_form(url: str, lambdad: LambdadServer, path: str = "/") -> str:
    url_id = urlsplit(url).hostname.split(".", 1)[0]  # type: ignore[union-attr]
    return f"{lambdad.endpoint}/lambda-url/{url_id}{path}"


def test_event_fields_in_both_forms(lambdad: LambdadServer, new_function: NewFunction) -> None:
    url, _ = _url(lambdad, new_function)  # the default handler returns its event
    address, host = _host_form(url, lambdad, "/a/b%20c")
    cookies = {"Cookie": "s=1; t=2", "X-Multi": "x"}
    by_host = requests.post(
        address, params=[("q", "1"), ("q", "2"), ("r", "a b")],
        headers={**host, **cookies, "Content-Type": "application/octet-stream"},
        data=b"\x00\x01\xfe\xff", timeout=30,
    )  # fmt: skip
    assert by_host.status_code == 200
    assert by_host.headers["content-type"] == "application/json"
    assert by_host.headers["x-amzn-requestid"]
    event = by_host.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b%20c"
    assert event["rawQueryString"] == "q=1&q=2&r=a+b"
    assert event["queryStringParameters"] == {"q": "1,2", "r": "a b"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-multi"] == "x"
    assert event["headers"]["host"] == urlsplit(url).netloc
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01\xfe\xff"
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/a/b c"
    assert context["accountId"] == "anonymous"
    assert context["domainName"] == urlsplit(url).hostname
    assert context["apiId"] == context["domainPrefix"] == urlsplit(url).hostname.split(".")[0]  # type: ignore[union-attr]

    by_path = requests.post(
        _path_form(url, lambdad, "/a/b%20c") + "?q=1&q=2&r=a+b",
        headers={**cookies, "Content-Type": "application/json"},
        data=b'{"k": "v"}', timeout=30,
    )  # fmt: skip
    assert by_path.status_code == 200
    same = by_path.json()
    assert same["rawPath"] == "/a/b%20c"
    assert same["requestContext"]["domainName"] == context["domainName"]
    assert same["body"] == '{"k": "v"}'
    assert same["isBase64Encoded"] is False
    root = requests.get(_path_form(url, lambdad, ""), timeout=30).json()
    assert root["rawPath"] == "/"


def test_structured_answer(lambdad: LambdadServer, new_function: NewFunction) -> None:
    url, _ = _url(lambdad, new_function, STRUCTURED)
    answer = requests.get(_path_form(url, lambdad, "/x"), timeout=30)
    assert answer.status_code == 201
    assert answer.headers["x-answer"] == "42"
    assert answer.headers["content-type"] == "image/png"
    assert answer.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]
    assert answer.content == b"\x89PNG\x00\xff"


def test_function_error_is_502(lambdad: LambdadServer, new_function: NewFunction) -> None:
    url, _ = _url(lambdad, new_function, FAILING)
    answer = requests.get(_path_form(url, lambdad), timeout=30)
    assert answer.status_code == 502
    assert answer.text == "Internal Server Error"


def test_none_without_the_permission_is_forbidden(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    url, name = _url(lambdad, new_function, permit=False)
    answer = requests.get(_path_form(url, lambdad), timeout=30)
    assert answer.status_code == 403
    assert answer.json() == {"Message": "Forbidden"}
    # A grant for the other auth type does not open a NONE URL either.
    lambdad.client().add_permission(
        FunctionName=name, StatementId="iam", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="AWS_IAM",
    )  # fmt: skip
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 403


def test_none_needs_both_permissions_aws_asks_for(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    # Since October 2025 AWS asks new URLs for lambda:InvokeFunction too, granted with
    # the AWS CLI's --invoked-via-function-url, as its guide shows.
    url, name = _url(lambdad, new_function, permit=False)
    lambdad.aws("lambda", "add-permission", "--function-name", name, "--statement-id", "url",
                "--action", "lambda:InvokeFunctionUrl", "--principal", "*",
                "--function-url-auth-type", "NONE")  # fmt: skip
    answer = requests.get(_path_form(url, lambdad), timeout=30)
    assert (answer.status_code, answer.json()) == (403, {"Message": "Forbidden"})
    added = lambdad.aws("lambda", "add-permission", "--function-name", name,
                        "--statement-id", "url-invoke", "--action", "lambda:InvokeFunction",
                        "--principal", "*", "--invoked-via-function-url")  # fmt: skip
    statement = json.loads(added["Statement"])
    assert statement["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 200
    lambdad.client().remove_permission(FunctionName=name, StatementId="url")
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 403


def test_aws_iam_needs_a_signature(lambdad: LambdadServer, new_function: NewFunction) -> None:
    url, _ = _url(lambdad, new_function, auth="AWS_IAM", permit=False)
    address, host = _host_form(url, lambdad, "/signed")
    unsigned = requests.get(address, headers=host, timeout=30)
    assert unsigned.status_code == 403
    assert unsigned.json() == {"Message": "Forbidden"}

    signed = AWSRequest(method="GET", url=url + "signed?x=1", data=b"")
    SigV4Auth(lambdad.credential.botocore(), "lambda", lambdad.region).add_auth(signed)
    headers = {**dict(signed.headers.items()), **host}
    answer = requests.get(address + "?x=1", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    event = answer.json()
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accountId"] == event["requestContext"]["accountId"]
    assert iam["accessKey"] == lambdad.credential.access_key_id

    wrong_service = AWSRequest(method="GET", url=url + "signed", data=b"")
    SigV4Auth(lambdad.credential.botocore(), "s3", lambdad.region).add_auth(wrong_service)
    refused = requests.get(
        address, headers={**dict(wrong_service.headers.items()), **host}, timeout=30
    )
    assert refused.status_code == 403


def test_another_account_needs_both_permissions(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    url, name = _url(lambdad, new_function, auth="AWS_IAM", permit=False)
    address, host = _host_form(url, lambdad, "/")

    def status() -> int:
        headers = sign_headers("GET", url, b"", {}, OTHER, lambdad.region)
        return requests.get(address, headers={**headers, **host}, timeout=30).status_code

    assert status() == 403
    client = lambdad.client()
    client.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                          Principal=OTHER.account_id, FunctionUrlAuthType="AWS_IAM")  # fmt: skip
    assert status() == 403
    client.add_permission(FunctionName=name, StatementId="url-invoke",
                          Action="lambda:InvokeFunction", Principal=OTHER.account_id,
                          InvokedViaFunctionUrl=True)  # fmt: skip
    assert status() == 200


def test_cors(lambdad: LambdadServer, new_function: NewFunction) -> None:
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "ExposeHeaders": ["x-answer"],
        "MaxAge": 300,
    }
    url, _ = _url(lambdad, new_function, Cors=cors)
    preflight = requests.options(
        _path_form(url, lambdad, "/any"),
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "GET,POST"
    assert preflight.headers["access-control-allow-headers"] == "x-custom"
    assert preflight.headers["access-control-max-age"] == "300"
    assert preflight.content == b""

    answer = requests.get(
        _path_form(url, lambdad), headers={"Origin": "https://app.example"}, timeout=30
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["access-control-expose-headers"] == "x-answer"
    other = requests.get(
        _path_form(url, lambdad), headers={"Origin": "https://evil.example"}, timeout=30
    )
    assert "access-control-allow-origin" not in other.headers


def test_alias_url_and_deleted_url(lambdad: LambdadServer, new_function: NewFunction) -> None:
    client = lambdad.client()
    url, name = _url(lambdad, new_function)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="$LATEST")
    alias_url = client.create_function_url_config(
        FunctionName=name, Qualifier="live", AuthType="NONE"
    )["FunctionUrl"]
    permit_url(client, name, Qualifier="live")
    assert requests.get(_path_form(alias_url, lambdad), timeout=30).status_code == 200

    client.delete_function_url_config(FunctionName=name)
    gone = requests.get(_path_form(url, lambdad), timeout=30)
    assert gone.status_code == 404
    address, host = _host_form(url, lambdad)
    assert requests.get(address, headers=host, timeout=30).status_code == 404


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reaches_the_localhost_name(lambdad: LambdadServer, new_function: NewFunction) -> None:
    url, _ = _url(lambdad, new_function)
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "30", url + "hello?x=1"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(out.stdout)["rawPath"] == "/hello"


def test_readme_example(lambdad: LambdadServer, new_function: NewFunction) -> None:
    """The README's "Function URLs" block, run by bash against a function like its `hello`."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Function URLs\n", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert block is not None
    source = "def handler(event, context):\n    return {'echo': event}\n"
    name = new_function(handler_zip(source))["FunctionName"]
    script = re.sub(r"\bhello\b", name, block.group(1))
    env = {
        **lambdad.aws_env(),
        "PATH": f"{Path(AWS_CLI).parent}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL_LAMBDA": lambdad.endpoint,
    }
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["echo"]["rawPath"] == "/greet"
    assert answer["echo"]["queryStringParameters"] == {"name": "ada"}


def test_permission_and_config_changes_apply_at_once(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    # The door caches the config and the policy decision: every change must reach it.
    url, name = _url(lambdad, new_function)
    client = lambdad.client()
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 200
    client.remove_permission(FunctionName=name, StatementId="url")
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 403
    client.remove_permission(FunctionName=name, StatementId="url-invoke")
    client.add_permission(
        FunctionName=name, StatementId="url2", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )  # fmt: skip
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 403
    client.add_permission(
        FunctionName=name, StatementId="plain", Action="lambda:InvokeFunction", Principal="*"
    )  # a plain InvokeFunction for anyone covers calls through the URL too
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 200
    client.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 403
    client.delete_function_url_config(FunctionName=name)
    assert requests.get(_path_form(url, lambdad), timeout=30).status_code == 404


def test_source_ip_is_the_clients_address(
    lambdad: LambdadServer, new_function: NewFunction
) -> None:
    url, _ = _url(lambdad, new_function)  # the default handler returns its event
    path = urlsplit(_path_form(url, lambdad)).path
    port = int(urlsplit(lambdad.endpoint).port)  # type: ignore[arg-type]
    # Any 127/8 address reaches the loopback server: connect from one that is not its own.
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["requestContext"]["http"]["sourceIp"] == "127.0.0.2"
