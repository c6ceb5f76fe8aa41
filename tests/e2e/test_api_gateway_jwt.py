"""HTTP APIs' JWT authorizers end to end: a small OpenID issuer served by the test
(discovery document and key set on loopback), tokens it signs with RS256, an API made
with boto3's ``create_authorizer``/``update_route`` and another deployed from a SAM
template with ``HttpApi`` ``Auth`` by ``lambdad deploy``. What the client gets (200,
401 with the ``www-authenticate`` challenge, 403 for missing scopes) and the claims
the function sees in ``requestContext.authorizer.jwt``.

The issuer is on the host's loopback: the server fetches it for PRIMARY, which its
operator trusts (``LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS``, as ``make serve`` trusts its own
account), and never for OTHER, whose issuers must be on public addresses."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from e2e.aws_side import module_server
from e2e.helpers import (
    OTHER,
    PRIMARY,
    LambdadServer,
    authorize_only_route,
    client_env,
    run_lambdad,
    stack_outputs,
)

NewFunction = Callable[..., dict[str, Any]]
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """An OpenID provider on loopback: ``<url>/.well-known/openid-configuration`` and
    its key set; ``mint`` signs tokens with its key."""

    def __init__(self, url: str, asked: list[str]) -> None:
        self.url = url
        self.asked = asked

    def mint(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "client-1", "sub": "ada", "iat": now - 5,
                "exp": now + 300, "email": "ada@example.com", **claims}  # fmt: skip
        head = _b64(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
        signed = f"{head}.{_b64(json.dumps(body).encode())}"
        signature = KEY.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"


def _documents(base: str) -> Mapping[str, bytes]:
    numbers = KEY.public_key().public_numbers()
    n, e = numbers.n.to_bytes(256, "big"), numbers.e.to_bytes(3, "big")
    jwk = {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": _b64(n), "e": _b64(e)}
    return {
        "/pool/.well-known/openid-configuration": json.dumps(
            {"issuer": f"{base}/pool", "jwks_uri": f"{base}/pool/keys"}
        ).encode(),
        "/pool/keys": json.dumps({"keys": [jwk]}).encode(),
    }


@pytest.fixture(scope="module")
def lambdad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdadServer]:
    env = {"LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": PRIMARY.account_id}
    with module_server(tmp_path_factory, "jwt", env) as server:
        yield server


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    served: dict[str, bytes] = {}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    served.update(_documents(base))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Issuer(f"{base}/pool", asked)
    finally:
        server.shutdown()
        server.server_close()


def _permit(lambdad: LambdadServer, name: str, api_id: str) -> None:
    lambdad.client().add_permission(
        FunctionName=name, StatementId=f"apigw-{api_id}", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{lambdad.region}:{PRIMARY.account_id}:{api_id}/*",
    )  # fmt: skip


def test_jwt_authorizer_made_with_boto3(
    lambdad: LambdadServer, new_function: NewFunction, issuer: Issuer
) -> None:
    function = new_function()  # echoes its event
    client = lambdad.client("apigatewayv2")
    api_id = client.create_api(
        Name="jwt", ProtocolType="HTTP", Target=function["FunctionArn"], RouteKey="GET /pets"
    )["ApiId"]
    authorizer = client.create_authorizer(
        ApiId=api_id, AuthorizerType="JWT", Name="idp",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": ["client-1"]},
    )  # fmt: skip
    assert authorizer["JwtConfiguration"] == {"Issuer": issuer.url, "Audience": ["client-1"]}
    authorize_only_route(
        client, api_id, "JWT",
        AuthorizerId=authorizer["AuthorizerId"], AuthorizationScopes=["pets.read"],
    )  # fmt: skip
    _permit(lambdad, function["FunctionName"], api_id)
    url = f"{lambdad.endpoint}/execute-api/{api_id}/pets"

    missing = requests.get(url, timeout=30)
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    token = issuer.mint(scope="openid pets.read", groups=["a", "b"])
    allowed = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert allowed.status_code == 200, allowed.text
    jwt = allowed.json()["requestContext"]["authorizer"]["jwt"]
    assert jwt["scopes"] == ["openid", "pets.read"]
    claims = jwt["claims"]
    assert (claims["sub"], claims["email"], claims["groups"]) == ("ada", "ada@example.com", "[a b]")
    assert claims["iss"] == issuer.url
    assert claims["exp"].isdigit()

    expired = requests.get(url, headers={"Authorization": issuer.mint(exp=1)}, timeout=30)
    assert (expired.status_code, expired.json()) == (401, {"message": "Unauthorized"})
    assert expired.headers["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" error_description="the token has expired"'
    )
    elsewhere = requests.get(url, headers={"Authorization": issuer.mint(aud="x")}, timeout=30)
    assert (
        'error_description="the token does not have a valid audience"'
        in (elsewhere.headers["www-authenticate"])
    )
    scoped = requests.get(url, headers={"Authorization": issuer.mint(scope="openid")}, timeout=30)
    assert (scoped.status_code, scoped.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in scoped.headers["www-authenticate"]
    # API Gateway verifies RSA signatures only: an ES256 token is refused.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    head = _b64(json.dumps({"alg": "ES256", "kid": "k1"}).encode())
    signed = f"{head}.{_b64(json.dumps({'iss': issuer.url}).encode())}"
    es256 = f"{signed}.{_b64(ec_key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))}"
    refused = requests.get(url, headers={"Authorization": es256}, timeout=30)
    assert refused.status_code == 401
    assert (
        'error_description="signing method ES256 is invalid"'
        in (refused.headers["www-authenticate"])
    )
    assert "Traceback" not in lambdad.stderr()


def test_an_untrusted_accounts_issuer_on_the_host_is_never_fetched(
    lambdad: LambdadServer, new_function: NewFunction, issuer: Issuer
) -> None:
    function = new_function(account=OTHER.account_id)
    client = lambdad.client("apigatewayv2", account=OTHER.account_id)
    api_id = client.create_api(
        Name="jwt", ProtocolType="HTTP", Target=function["FunctionArn"], RouteKey="GET /pets"
    )["ApiId"]
    host_issuer = issuer.url.replace("/pool", "/other-tenant")
    authorizer = client.create_authorizer(
        ApiId=api_id, AuthorizerType="JWT", Name="idp",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": host_issuer, "Audience": ["client-1"]},
    )  # fmt: skip
    authorize_only_route(client, api_id, "JWT", AuthorizerId=authorizer["AuthorizerId"])
    url = f"{lambdad.endpoint}/execute-api/{api_id}/pets"
    token = issuer.mint(iss=host_issuer)
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    assert not [path for path in issuer.asked if path.startswith("/other-tenant")]
    assert "Traceback" not in lambdad.stderr()


@contextlib.contextmanager
def _deployed(lambdad: LambdadServer, project: Path, stack: str) -> Iterator[dict[str, str]]:
    """``lambdad deploy`` of the project's template as ``stack``: its outputs; deleted after."""
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield stack_outputs(lambdad, stack)
    finally:
        run_lambdad("delete-stack", stack, env=env)


SAM_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Idp
        Authorizers:
          Idp:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: {{issuer: "{issuer}", audience: [client-1]}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python3.11
      Events:
        Me:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Path: /me, Method: get,
                        Auth: {{AuthorizationScopes: [profile]}}}}
Outputs:
  Api: {{Value: !Ref Api}}
"""

WHO = (
    "def handler(event, context):\n"
    "    jwt = event['requestContext']['authorizer']['jwt']\n"
    "    return {'sub': jwt['claims']['sub'], 'scopes': jwt['scopes']}\n"
)


def test_jwt_authorizer_from_a_sam_template(
    lambdad: LambdadServer, issuer: Issuer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    (tmp_path / "app.py").write_text(WHO)
    (tmp_path / "template.yaml").write_text(SAM_TEMPLATE.format(issuer=issuer.url))
    with _deployed(lambdad, tmp_path, unique_name("jwt")) as outputs:
        url = f"{lambdad.endpoint}/execute-api/{outputs['Api']}/me"
        assert requests.get(url, timeout=30).status_code == 401
        token = issuer.mint(scope="profile")
        answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sub": "ada", "scopes": ["profile"]}


CFN_TEMPLATE = """\
Resources:
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {{Service: [lambda.amazonaws.com]}}
            Action: [sts:AssumeRole]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt FnRole.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return {{"sub": event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]}}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {{Name: cfn-jwt, ProtocolType: HTTP}}
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      AuthorizerType: JWT
      Name: idp
      IdentitySource: [$request.querystring.access_token]
      JwtConfiguration: {{Issuer: "{issuer}", Audience: [client-1]}}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: '2.0'
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /who
      AuthorizationType: JWT
      AuthorizerId: !Ref Auth
      Target: !Sub integrations/${{Integration}}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {{ApiId: !Ref Api, StageName: $default, AutoDeploy: true}}
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub "arn:aws:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{Api}}/*"
Outputs:
  Api: {{Value: !Ref Api}}
"""


def test_jwt_authorizer_from_a_cloudformation_template(
    lambdad: LambdadServer, issuer: Issuer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    """``AWS::ApiGatewayV2::Authorizer`` (the developer guide's CloudFormation form, the
    token in the ``access_token`` query parameter)."""
    (tmp_path / "template.yaml").write_text(CFN_TEMPLATE.format(issuer=issuer.url))
    with _deployed(lambdad, tmp_path, unique_name("cfnjwt")) as outputs:
        api_id = outputs["Api"]
        url = f"{lambdad.endpoint}/execute-api/{api_id}/who"
        assert requests.get(url, timeout=30).status_code == 401
        answer = requests.get(url, params={"access_token": issuer.mint()}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sub": "ada"}
    items = lambdad.client("apigatewayv2").get_apis()["Items"]
    assert api_id not in [a["ApiId"] for a in items]
