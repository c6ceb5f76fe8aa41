"""The upstream relay over real sockets: boto3 signs with a role session's keys, the
relay (environments/upstream_proxy.py) stands between it and an upstream that records
what reaches it. The upstream sees the operator's key, never the session's; requests of
a role without upstream credentials reach it unchanged; a forged signature or another
account's session goes no further than the relay."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import h11
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


async def _upstream(
    seen: Seen, tls: ssl.SSLContext | None = None, answers: int | None = None
) -> asyncio.Server:
    """Answers every request 200 (``ok`` to a GET), recording its headers, with no
    reason phrase (as some servers answer), keeping the connection; with ``answers``,
    a connection that answered that many drops the next request unanswered (an idle
    connection the server closed meanwhile)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        body, answered = b"", 0
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Request):
                    seen.append({k.decode(): v.decode() for k, v in event.headers})
                    if answers is not None and answered >= answers:
                        return
                    body = b"ok" if event.method == b"GET" else b""
                elif isinstance(event, h11.EndOfMessage):
                    headers = [("Content-Length", str(len(body))), ("Content-Type", "text/plain")]
                    writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
                    writer.write(conn.send(h11.Data(data=body)))
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    answered += 1
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (ConnectionError, h11.RemoteProtocolError):
            return
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)


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
    check: Callable[[int, int, SessionIssuer, Seen], Any],
    budget: BodyBudget | None = None,
    tls: ssl.SSLContext | None = None,
    answers: int | None = None,
) -> None:
    async def main() -> None:
        seen: Seen = []
        issuer = SessionIssuer(os.urandom(32), 3600)
        upstream = await _upstream(seen, tls, answers)
        up_port = upstream.sockets[0].getsockname()[1]

        def credentials(role: str, service: str) -> UpstreamCredential | None:
            return OPERATOR if (role, service) == (SIGNED_ROLE, "s3") else None

        signing = UpstreamSigning(
            ACCOUNT, issuer.open, credentials, lambda: datetime.now(UTC), budget or BodyBudget()
        )
        forward = Forward(0, "localhost" if tls else "127.0.0.1", up_port, tls=tls is not None)

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


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize("trusted", [True, False])
def test_an_https_upstream_is_reached_with_its_certificate_verified(
    trusted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, key_file = _certificate(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert_file, key_file)
    if trusted:  # as if the operator's system trusted it
        monkeypatch.setattr(
            upstream_proxy, "_tls_context", lambda: ssl.create_default_context(cafile=cert_file)
        )

    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        with contextlib.closing(_client(port, _mint(issuer, SIGNED_ROLE))) as s3:
            if trusted:
                assert s3.get_object(Bucket="b", Key="k")["Body"].read() == b"ok"
                (headers,) = seen
                assert headers["host"] == f"localhost:{up_port}"
                assert "Credential=AKIAOPERATOR/" in headers["authorization"]
            else:  # a certificate the system does not trust: no request goes upstream
                with pytest.raises(ClientError) as refused:
                    s3.get_object(Bucket="b", Key="k")
                assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
                assert seen == []

    _run(check, tls=server_side)


def test_a_kept_upstream_connection_closed_meanwhile_is_opened_again() -> None:
    def check(port: int, up_port: int, issuer: SessionIssuer, seen: Seen) -> None:
        with contextlib.closing(_client(port, _mint(issuer, SIGNED_ROLE))) as s3:
            for _ in range(3):
                assert s3.get_object(Bucket="b", Key="k")["Body"].read() == b"ok"
        # Each connection after its first answer drops the next request: sent again.
        assert len(seen) == 5

    _run(check, answers=1)
