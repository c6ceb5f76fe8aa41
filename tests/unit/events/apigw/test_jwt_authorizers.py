"""HTTP APIs' JWT authorizers: the checks API Gateway makes (``jwt_core``), the
issuer's keys fetched and kept (``jwt_run.IssuerKeys`` over a fake web), and routes
behind one through the door: the claims in the event, 401/403 with their
``www-authenticate`` challenge, and authorizers imported from OpenAPI."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lambdad.clock import FakeClock
from lambdad.events.apigw import jwt_core
from lambdad.events.apigw.jwt_run import IssuerKeys, JwtAuthorizers
from lambdad.events.apigw.names import ApiAddress
from lambdad.events.apigw.service import ApiGateway
from lambdad.events.url_cache import UrlCache
from lambdad.events.web_fetch import FetchError
from lambdad.invoke.sync import InvokeRequest, InvokeResponse
from lambdad.model.changes import ChangeHub
from unit.events.apigw.conftest import Call

ISSUER = "https://idp.example.com/pool"
APP = "arn:aws:lambda:us-east-1:111111111111:function:app"
NOW = 1714564800  # the gateway fixture's clock: 2024-05-01 12:00 UTC
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "kid": kid, "n": _b64(n), "e": _b64(numbers.e.to_bytes(3, "big"))}


def mint(claims: Mapping[str, Any], *, kid: str = "k1", alg: str = "RS256",
         key: rsa.RSAPrivateKey = KEY) -> str:  # fmt: skip
    head = _b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(dict(claims)).encode())
    signed = f"{head}.{body}".encode()
    if alg == "PS256":
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
        signature = key.sign(signed, pss, hashes.SHA256())
    else:
        signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


CLAIMS = {"iss": ISSUER, "aud": "client-1", "sub": "ada", "exp": NOW + 60, "iat": NOW - 1,
          "scope": "pets.read openid", "groups": ["admin", "dev"],
          "email_verified": True}  # fmt: skip
CONFIG = jwt_core.JwtConfig(ISSUER, ("client-1",))


def _check(token: str, scopes: tuple[str, ...] = ()) -> jwt_core.Grant | jwt_core.Refusal:
    decoded = jwt_core.decode(token)
    assert isinstance(decoded, jwt_core.Token)
    return jwt_core.check(decoded, jwt_core.key_set({"keys": [_jwk(KEY, "k1")]}), CONFIG,
                          scopes, NOW)  # fmt: skip


def _refused(outcome: object) -> str:
    assert isinstance(outcome, jwt_core.Refusal)
    return outcome.description


def test_a_valid_token_passes_with_its_claims() -> None:
    outcome = _check(mint(CLAIMS))
    assert isinstance(outcome, jwt_core.Grant)
    assert outcome.scopes is None
    assert jwt_core.event_claims(outcome.claims) == {
        "iss": ISSUER, "aud": "client-1", "sub": "ada", "exp": str(NOW + 60),
        "iat": str(NOW - 1), "scope": "pets.read openid", "groups": "[admin dev]",
        "email_verified": "true",
    }  # fmt: skip
    assert isinstance(_check(mint(CLAIMS, alg="PS256")), jwt_core.Grant)


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"iss": "https://elsewhere"}, "the token does not have a valid issuer"),
        ({"aud": "client-2"}, "the token does not have a valid audience"),
        ({"aud": ["x", "y"]}, "the token does not have a valid audience"),
        ({"exp": NOW}, "the token has expired"),
        ({"exp": "soon"}, "the token has expired"),
        ({"nbf": NOW + 5}, "the token is not valid yet"),
        ({"iat": NOW + 5}, "the token was issued in the future"),
    ],
)
def test_claims_are_checked(change: dict[str, Any], description: str) -> None:
    assert _refused(_check(mint({**CLAIMS, **change}))) == description


def test_client_id_stands_for_a_missing_aud() -> None:
    claims = {k: v for k, v in CLAIMS.items() if k != "aud"}
    assert isinstance(_check(mint({**claims, "client_id": "client-1"})), jwt_core.Grant)
    # With both, aud is the one read.
    assert _refused(_check(mint({**CLAIMS, "aud": "x", "client_id": "client-1"})))


def test_signature_key_and_algorithm() -> None:
    assert _refused(_check(mint(CLAIMS, key=OTHER_KEY))) == "crypto/rsa: verification error"
    assert "key id" in _refused(_check(mint(CLAIMS, kid="k9")))
    head = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    forged = f"{head}.{_b64(json.dumps(CLAIMS).encode())}.c2ln"
    assert _refused(_check(forged)) == "signing method HS256 is invalid"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    es = f"{_b64(json.dumps({'alg': 'ES256', 'kid': 'k1'}).encode())}.e30."
    es += _b64(ec_key.sign(b"x", ec.ECDSA(hashes.SHA256())))
    assert _refused(_check(es)) == "signing method ES256 is invalid"
    none = f"{_b64(json.dumps({'alg': 'none'}).encode())}.{_b64(json.dumps(CLAIMS).encode())}."
    assert _refused(_check(none)) == "signing method none is invalid"


def test_what_reaches_the_challenge_header_cannot_split_it() -> None:
    head = _b64(json.dumps({"alg": 'x"\r\nSet-Cookie: a=1', "kid": "k1"}).encode())
    refused = _check(f"{head}.{_b64(json.dumps(CLAIMS).encode())}.c2ln")
    assert _refused(refused) == "signing method unknown is invalid"
    answer = jwt_core.refusal_answer(jwt_core.Refusal("expected", ('a"\r\nb',)))
    (challenge,) = answer.header_values("www-authenticate")
    assert "\r" not in challenge
    assert "\n" not in challenge
    assert challenge.startswith('Bearer scope="ab" error="insufficient_scope"')


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d", "!!.??.**", "e30.W10.", "é.é.é"])
def test_malformed_tokens_are_refused(token: str) -> None:
    assert isinstance(jwt_core.decode(token), jwt_core.Refusal)


def test_scopes() -> None:
    granted = _check(mint(CLAIMS), ("pets.write", "pets.read"))
    assert isinstance(granted, jwt_core.Grant)
    assert granted.scopes == ("pets.read", "openid")
    assert isinstance(_check(mint({**CLAIMS, "scope": None, "scp": ["pets.write"]}),
                             ("pets.write",)), jwt_core.Grant)  # fmt: skip
    refused = _check(mint(CLAIMS), ("pets.write", "admin"))
    assert isinstance(refused, jwt_core.Refusal)
    answer = jwt_core.refusal_answer(refused)
    assert (answer.status, answer.body) == (403, b'{"message":"Forbidden"}')
    assert answer.header_values("www-authenticate") == [
        'Bearer scope="pets.write admin" error="insufficient_scope" '
        'error_description="expected scopes: [pets.write admin]"'
    ]


def test_token_of_strips_bearer() -> None:
    assert jwt_core.token_of("Bearer abc") == "abc"
    assert jwt_core.token_of("bearer  abc ") == "abc"
    assert jwt_core.token_of("abc") == "abc"


class _Web:
    def __init__(self) -> None:
        self.keys = [_jwk(KEY, "k1")]
        self.asked: list[str] = []
        self.down = False

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        self.asked.append(url)
        if self.down:
            raise FetchError(f"GET {url}: refused")
        if url == ISSUER + "/.well-known/openid-configuration":
            return json.dumps({"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}).encode()
        if url == ISSUER + "/keys":
            return json.dumps({"keys": self.keys}).encode()
        raise FetchError(f"GET {url}: 404")


def test_issuer_keys_are_kept_and_fetched_again_for_a_new_kid() -> None:
    web, clock = _Web(), FakeClock()
    keys = IssuerKeys(web, clock)
    assert set(asyncio.run(keys.keys((ISSUER, True), "k1")) or {}) == {"k1"}
    assert len(web.asked) == 2
    asyncio.run(keys.keys((ISSUER, True), "k1"))
    asyncio.run(keys.keys((ISSUER, True), "k2"))  # unknown, but the set is under a minute old
    assert len(web.asked) == 2
    web.keys.append(_jwk(OTHER_KEY, "k2"))
    clock.advance(61)
    assert set(asyncio.run(keys.keys((ISSUER, True), "k2")) or {}) == {"k1", "k2"}
    assert len(web.asked) == 4
    web.down = True
    clock.advance(2 * 3600)
    # A failed fetch keeps the keys it had.
    assert set(asyncio.run(keys.keys((ISSUER, True), "k1")) or {}) == {"k1", "k2"}
    assert asyncio.run(IssuerKeys(web, clock).keys((ISSUER, True), "k1")) is None


def test_concurrent_requests_share_one_fetch() -> None:
    web = _Web()
    keys = IssuerKeys(web, FakeClock())

    async def both() -> list[object]:
        source = (ISSUER, True)
        return await asyncio.gather(keys.keys(source, "k1"), keys.keys(source, "k1"))

    first, second = asyncio.run(both())
    assert first is second
    assert len(web.asked) == 2  # the discovery document and the key set, once


def test_an_untrusted_accounts_issuer_is_fetched_through_the_public_web() -> None:
    trusted_web, public_web = _Web(), _Web()
    public_web.down = True  # as PublicWeb answers for an issuer on the host
    keys = IssuerKeys(
        trusted_web, FakeClock(), public=public_web, trusted=lambda account: account == "1" * 12
    )
    mine, theirs = keys.source(ISSUER, "1" * 12), keys.source(ISSUER, "2" * 12)
    assert asyncio.run(keys.keys(theirs, "k1")) is None
    assert public_web.asked
    assert not trusted_web.asked
    # What the other account could not fetch is kept apart from the trusted account's keys.
    assert set(asyncio.run(keys.keys(mine, "k1")) or {}) == {"k1"}
    assert keys.peek(theirs) == {}


class _App:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def invoke(self, req: InvokeRequest) -> InvokeResponse:
        self.events.append(json.loads(req.payload))
        return InvokeResponse(200, b'{"statusCode": 200, "body": "ok"}', "$LATEST")


class _Policies:
    def allows_service(self, *args: Any) -> bool:
        return True


def _jwt_api(v2: Call, version: str = "2.0", scopes: list[str] | None = None) -> str:
    api_id = v2("CreateApi", {"Name": "j", "ProtocolType": "HTTP", "Target": APP,
                              "RouteKey": "GET /pets"})["ApiId"]  # fmt: skip
    made = v2("CreateAuthorizer", {
        "ApiId": api_id, "AuthorizerType": "JWT", "Name": "jwt",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Issuer": ISSUER, "Audience": ["client-1"]},
    })  # fmt: skip
    assert "AuthorizerResultTtlInSeconds" not in made
    (route,) = v2("GetRoutes", {"ApiId": api_id})["Items"]
    v2("UpdateRoute", {"ApiId": api_id, "RouteId": route["RouteId"], "AuthorizationType": "JWT",
                       "AuthorizerId": made["AuthorizerId"],
                       **({"AuthorizationScopes": scopes} if scopes else {})})  # fmt: skip
    if version == "1.0":
        (integration,) = v2("GetIntegrations", {"ApiId": api_id})["Items"]
        v2("UpdateIntegration", {"ApiId": api_id, "IntegrationId": integration["IntegrationId"],
                                 "PayloadFormatVersion": "1.0"})  # fmt: skip
    return api_id


def _door(gateway: ApiGateway, app: _App) -> Any:
    door = gateway.door(app, _Policies(), UrlCache(ChangeHub()))
    door.jwt = JwtAuthorizers(IssuerKeys(_Web(), gateway.clock), gateway.clock)
    return door


def _get(door: Any, api_id: str, token: str | None) -> tuple[int, dict[str, str], Any]:
    headers = [("host", "x")] + ([("authorization", token)] if token is not None else [])
    status, out, body = asyncio.run(
        door.respond(
            ApiAddress(api_id, None, "/pets"), "GET", "", headers, b"", source_ip="192.0.2.1"
        )
    )
    return status, {k.decode(): v.decode() for k, v in out}, body


def test_a_jwt_route_through_the_door(gateway: ApiGateway, v2: Call) -> None:
    api_id, app = _jwt_api(v2, scopes=["pets.read"]), _App()
    door = _door(gateway, app)
    status, _, body = _get(door, api_id, "Bearer " + mint(CLAIMS))
    assert (status, body) == (200, b"ok")
    jwt = app.events[-1]["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["sub"] == "ada"
    assert jwt["claims"]["exp"] == str(NOW + 60)
    assert jwt["scopes"] == ["pets.read", "openid"]
    status, headers, body = _get(door, api_id, mint({**CLAIMS, "exp": NOW - 1}))
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    assert headers["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" error_description="the token has expired"'
    )
    missing = _get(door, api_id, None)
    assert (missing[0], json.loads(missing[2])) == (401, {"message": "Unauthorized"})
    assert _get(door, api_id, "Bearer nonsense")[0] == 401
    assert _get(door, api_id, mint({**CLAIMS, "scope": "openid"}))[0] == 403
    assert len(app.events) == 1


def test_a_verified_token_is_remembered_but_its_claims_checked_each_time(
    gateway: ApiGateway, v2: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[jwt_core.Token] = []
    real = jwt_core.signature

    def counting(token: jwt_core.Token, keys: Any) -> jwt_core.Refusal | None:
        verified.append(token)
        return real(token, keys)

    monkeypatch.setattr(jwt_core, "signature", counting)
    api_id, app = _jwt_api(v2), _App()
    door = _door(gateway, app)
    token = mint(CLAIMS)
    assert [_get(door, api_id, token)[0] for _ in range(3)] == [200, 200, 200]
    assert len(verified) == 1
    gateway.clock.advance(61)  # type: ignore[attr-defined]
    status, headers, _ = _get(door, api_id, token)
    assert status == 401
    assert "the token has expired" in headers["www-authenticate"]
    assert _get(door, api_id, mint(CLAIMS, key=OTHER_KEY))[0] == 401  # never remembered
    assert len(verified) == 2


def test_payload_1_0_carries_claims_and_scopes(gateway: ApiGateway, v2: Call) -> None:
    api_id, app = _jwt_api(v2, "1.0"), _App()
    assert _get(_door(gateway, app), api_id, mint(CLAIMS))[0] == 200
    authorizer = app.events[-1]["requestContext"]["authorizer"]
    assert authorizer["claims"]["aud"] == "client-1"
    assert authorizer["scopes"] is None


def test_control_checks(gateway: ApiGateway, v2: Call) -> None:
    from lambdad.errors import BadRequestException

    api_id = v2("CreateApi", {"Name": "c", "ProtocolType": "HTTP"})["ApiId"]
    base = {"ApiId": api_id, "AuthorizerType": "JWT", "Name": "j",
            "IdentitySource": ["$request.header.Authorization"]}  # fmt: skip
    with pytest.raises(BadRequestException):
        v2("CreateAuthorizer", base)
    with pytest.raises(BadRequestException):
        v2("CreateAuthorizer", {**base, "IdentitySource": [],
                                "JwtConfiguration": {"Issuer": ISSUER}})  # fmt: skip
    with pytest.raises(BadRequestException):
        v2("CreateAuthorizer", {**base, "IdentitySource": ["$stageVariables.token"],
                                "JwtConfiguration": {"Issuer": ISSUER}})  # fmt: skip
    made = v2("CreateAuthorizer", {**base, "JwtConfiguration": {"Issuer": ISSUER}})
    with pytest.raises(BadRequestException):  # a JWT authorizer on a CUSTOM route
        v2("CreateRoute", {"ApiId": api_id, "RouteKey": "GET /x", "AuthorizationType": "CUSTOM",
                           "AuthorizerId": made["AuthorizerId"]})  # fmt: skip


OPENAPI = {
    "openapi": "3.0.1",
    "info": {"title": "pets", "version": "1"},
    "components": {"securitySchemes": {"MyJwt": {
        "type": "oauth2",
        "x-amazon-apigateway-authorizer": {
            "type": "jwt", "identitySource": "$request.header.Authorization",
            "jwtConfiguration": {"issuer": ISSUER, "audience": ["client-1"]},
        },
    }, "Sig": {"type": "apiKey", "name": "Authorization", "in": "header",
               "x-amazon-apigateway-authtype": "awsSigv4"}}},
    "paths": {
        "/pets": {"get": {
            "security": [{"MyJwt": ["pets.read"]}],
            "x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": APP,
                                                "payloadFormatVersion": "2.0"},
        }},
        "/open": {"get": {"security": [], "x-amazon-apigateway-integration": {
            "type": "aws_proxy", "uri": APP, "payloadFormatVersion": "2.0"}}},
        "/signed": {"get": {"security": [{"Sig": []}], "x-amazon-apigateway-integration": {
            "type": "aws_proxy", "uri": APP, "payloadFormatVersion": "2.0"}}},
    },
}  # fmt: skip


def test_import_api_reads_jwt_authorizers(gateway: ApiGateway, v2: Call) -> None:
    api_id = v2("ImportApi", {"Body": json.dumps(OPENAPI)})["ApiId"]
    (authorizer,) = v2("GetAuthorizers", {"ApiId": api_id})["Items"]
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["JwtConfiguration"] == {"Issuer": ISSUER, "Audience": ["client-1"]}
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    routes = {r["RouteKey"]: r for r in v2("GetRoutes", {"ApiId": api_id})["Items"]}
    assert routes["GET /pets"]["AuthorizationType"] == "JWT"
    assert routes["GET /pets"]["AuthorizerId"] == authorizer["AuthorizerId"]
    assert routes["GET /pets"]["AuthorizationScopes"] == ["pets.read"]
    assert routes["GET /open"]["AuthorizationType"] == "NONE"
    assert routes["GET /signed"]["AuthorizationType"] == "AWS_IAM"
    v2("CreateStage", {"ApiId": api_id, "StageName": "$default", "AutoDeploy": True})
    app = _App()
    door = _door(gateway, app)
    assert _get(door, api_id, None)[0] == 401
    assert _get(door, api_id, mint(CLAIMS))[0] == 200
    # Imported again: the authorizers are replaced with the routes.
    v2("ReimportApi", {"ApiId": api_id, "Body": json.dumps(OPENAPI)})
    assert len(v2("GetAuthorizers", {"ApiId": api_id})["Items"]) == 1


def test_import_api_reads_lambda_authorizers(gateway: ApiGateway, v2: Call) -> None:
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{APP}/invocations"
    definition = {
        "openapi": "3.0.1",
        "info": {"title": "gated"},
        "security": [{"Gate": []}],  # the definition's default
        "components": {"securitySchemes": {"Gate": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authorizer": {
                "type": "request", "authorizerUri": uri, "enableSimpleResponses": True,
                "authorizerPayloadFormatVersion": "2.0", "authorizerResultTtlInSeconds": 60,
                "identitySource": "$request.header.Authorization, $request.querystring.k",
            },
        }}},
        "paths": {"/x": {"get": {"x-amazon-apigateway-integration": {
            "type": "aws_proxy", "uri": APP, "payloadFormatVersion": "2.0"}}}},
    }  # fmt: skip
    api_id = v2("ImportApi", {"Body": json.dumps(definition)})["ApiId"]
    (authorizer,) = v2("GetAuthorizers", {"ApiId": api_id})["Items"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerUri"] == uri
    assert authorizer["IdentitySource"] == [
        "$request.header.Authorization", "$request.querystring.k"
    ]  # fmt: skip
    assert (authorizer["EnableSimpleResponses"], authorizer["AuthorizerResultTtlInSeconds"]) == (
        True, 60
    )  # fmt: skip
    (route,) = v2("GetRoutes", {"ApiId": api_id})["Items"]
    assert (route["AuthorizationType"], route["AuthorizerId"]) == (
        "CUSTOM", authorizer["AuthorizerId"]
    )  # fmt: skip
