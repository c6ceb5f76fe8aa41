"""The upstream relay over real sockets: boto3 signs with a role session's keys, the
relay (environments/upstream_proxy.py) stands between it and an upstream that records
what reaches it. The upstream sees the operator's key, never the session's; requests of
a role without upstream credentials reach it unchanged; a forged signature or another
account's session goes no further than the relay."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import h11
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdad.environments import upstream_proxy
from lambdad.environments.upstream_proxy import BodyBudget, UpstreamSigning
from lambdad.model.endpoints import Forward
from lambdad.model.session import Session, SessionIssuer
from lambdad.model.upstream import UpstreamCredential

ACCOUNT = "123456789012"
SIGNED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/signed"
PLAIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/plain"
OPERATOR = UpstreamCredential("AKIAOPERATOR", "operator-secret")

Seen = list[dict[str, str]]


async def _upstream(seen: Seen) -> asyncio.Server:
    """Answers every request 200 (``ok`` to a GET), recording its headers; with no
    reason phrase, as some servers answer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                seen.append({k.decode(): v.decode() for k, v in event.headers})
                body = b"ok" if event.method == b"GET" else b""
            elif isinstance(event, h11.EndOfMessage):
                headers = [("Content-Length", str(len(body))), ("Content-Type", "text/plain")]
                writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
                writer.write(conn.send(h11.Data(data=body)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                writer.close()
                return
            elif isinstance(event, h11.ConnectionClosed):
                return

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _client(port: int, session: Session, secret: str | None = None) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=secret or session.secret_access_key,
        aws_session_token=session.token,
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _run(
    check: Callable[[int, int, SessionIssuer, Seen], Any], budget: BodyBudget | None = None
) -> None:
    async def main() -> None:
        seen: Seen = []
        issuer = SessionIssuer(os.urandom(32), 3600)
        upstream = await _upstream(seen)
        up_port = upstream.sockets[0].getsockname()[1]

        def credentials(role: str, service: str) -> UpstreamCredential | None:
            return OPERATOR if (role, service) == (SIGNED_ROLE, "s3") else None

        signing = UpstreamSigning(
            ACCOUNT, issuer.open, credentials, lambda: datetime.now(UTC), budget or BodyBudget()
        )
        forward = Forward(0, "127.0.0.1", up_port)

        async def relayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await upstream_proxy.serve(reader, writer, forward, signing, None)
            finally:
                writer.close()

        relay = await asyncio.start_server(relayed, "127.0.0.1", 0)
        try:
            port = relay.sockets[0].getsockname()[1]
            await asyncio.to_thread(check, port, up_port, issuer, seen)
        finally:
            relay.close()
            upstream.close()
            await relay.wait_closed()
            await upstream.wait_closed()

    asyncio.run(main())


def _mint(issuer: SessionIssuer, role: str, account: str = ACCOUNT) -> Session:
    return issuer.mint(
        account, role, f"arn:aws:lambda:us-east-1:{account}:function:f", datetime.now(UTC)
    )


def test_the_upstream_sees_the_operators_key_not_the_sessions() -> None:
    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        session = _mint(issuer, SIGNED_ROLE)
        with contextlib.closing(_client(port, session)) as s3:
            for body in (b"", b"x" * 100_000):
                s3.put_object(Bucket="b", Key="k", Body=body)
            assert s3.get_object(Bucket="b", Key="k")["Body"].read() == b"ok"
        assert len(seen) == 3
        for headers in seen:
            assert "Credential=AKIAOPERATOR/" in headers["authorization"]
            assert "x-amz-security-token" not in headers
            assert headers["host"] == f"127.0.0.1:{up_port}"
            assert session.access_key_id not in str(headers)

    _run(check)


def test_a_role_without_upstream_credentials_passes_unchanged() -> None:
    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        session = _mint(issuer, PLAIN_ROLE)
        with contextlib.closing(_client(port, session)) as s3:
            s3.get_object(Bucket="b", Key="k")
        (headers,) = seen
        assert f"Credential={session.access_key_id}/" in headers["authorization"]
        assert headers["x-amz-security-token"] == session.token

    _run(check)


@pytest.mark.parametrize("case", ["forged", "other-account"])
def test_a_forged_signature_or_another_accounts_session_stops_at_the_relay(case: str) -> None:
    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        if case == "forged":
            client = _client(port, _mint(issuer, SIGNED_ROLE), secret="guessed")
        else:
            client = _client(port, _mint(issuer, SIGNED_ROLE, account="210987654321"))
        with contextlib.closing(client), pytest.raises(ClientError) as refused:
            client.get_object(Bucket="b", Key="k")
        error = refused.value.response["Error"]
        expected = "SignatureDoesNotMatch" if case == "forged" else "AccessDenied"
        assert error["Code"] == expected
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert seen == []

    _run(check)


def test_bodies_beyond_the_limit_or_the_environments_budget_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_proxy, "MAX_BODY", 3000)
    budget = BodyBudget(2000)

    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        with contextlib.closing(_client(port, _mint(issuer, SIGNED_ROLE))) as s3:
            s3.put_object(Bucket="b", Key="k", Body=b"x" * 1500)
            for size, code in ((2500, "SlowDown"), (3500, "EntityTooLarge")):
                with pytest.raises(ClientError) as refused:
                    s3.put_object(Bucket="b", Key="k", Body=b"x" * size)
                assert refused.value.response["Error"]["Code"] == code
            s3.put_object(Bucket="b", Key="k", Body=b"x" * 1500)
        assert len(seen) == 2

    _run(check, budget)
    assert budget.held == 0  # every request's body given back
