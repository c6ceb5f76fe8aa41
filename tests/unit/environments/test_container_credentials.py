"""The container credentials endpoint: the version's token only, a session renewed
before it runs out."""

from __future__ import annotations

from lambdad.clock import FakeClock
from lambdad.environments.container_credentials import ContainerCredentials
from lambdad.model.session import Session, SessionIssuer

ROLE = "arn:aws:iam::123456789012:role/runner"
FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def test_token_session_and_renewal() -> None:
    clock = FakeClock()
    issuer = SessionIssuer(bytes(32), 3600)
    minted: list[Session] = []

    def mint() -> Session:
        minted.append(issuer.mint("123456789012", ROLE, FN, clock.now()))
        return minted[-1]

    endpoint = ContainerCredentials("tok", mint, clock)
    assert endpoint.answer(None)[0] == 403
    assert endpoint.answer("wrong")[0] == 403
    status, first = endpoint.answer("tok")
    assert status == 200
    assert first["AccessKeyId"].startswith("ASIA")
    assert set(first) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert endpoint.answer("tok")[1] == first  # the same session while it lasts
    clock.advance(3600 - 29 * 60)  # under half an hour left: a new one
    assert endpoint.answer("tok")[1]["AccessKeyId"] != first["AccessKeyId"]
    assert len(minted) == 2


def test_without_a_snapstart_session_there_is_no_endpoint() -> None:
    assert ContainerCredentials(None, None, FakeClock()).answer("x")[0] == 404
