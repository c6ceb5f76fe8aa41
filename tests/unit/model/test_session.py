"""Execution-role sessions: minted, opened, expired, and never forged."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from lambdad.model.session import (
    Session,
    SessionIssuer,
    is_session_key,
    mint,
    open_token,
    role_account,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/service-role/runner"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:worker"


def _session(key: bytes = KEY, seconds: int = 3600) -> Session:
    return mint(
        key,
        account="123456789012",
        role_arn=ROLE,
        function_arn=FUNCTION,
        expires=NOW + timedelta(seconds=seconds),
    )


def test_minted_session_opens_to_itself() -> None:
    session = _session()
    assert session.access_key_id.startswith("ASIA")
    assert len(session.access_key_id) == 20
    assert is_session_key(session.access_key_id)
    assert open_token(KEY, session.access_key_id, session.token) == session
    assert session.assumed_role_arn == "arn:aws:sts::123456789012:assumed-role/runner/worker"


def test_sessions_differ_each_time() -> None:
    a, b = _session(), _session()
    assert a.access_key_id != b.access_key_id
    assert a.secret_access_key != b.secret_access_key
    assert a.token != b.token


def test_expiry_is_the_sessions_own() -> None:
    session = _session(seconds=60)
    assert not session.expired(NOW + timedelta(seconds=59))
    assert session.expired(NOW + timedelta(seconds=60))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:30] + ("A" if t[30] != "A" else "B") + t[31:],  # a flipped character
        lambda t: t[:-4],  # truncated
        lambda t: "not base64 at all!",
        lambda t: "",
        lambda t: base64.b64encode(b"\0" * 12 + b'{"k":"ASIA"}' + b"\0" * 16).decode(),
        lambda t: t * 200,  # too long to try
    ],
)
def test_an_altered_or_made_up_token_opens_to_nothing(tamper: Callable[[str], str]) -> None:
    session = _session()
    assert open_token(KEY, session.access_key_id, tamper(session.token)) is None


def test_a_token_opens_only_under_its_key_and_for_its_key_id() -> None:
    session = _session()
    other = _session()
    assert open_token(OTHER_KEY, session.access_key_id, session.token) is None
    assert open_token(KEY, other.access_key_id, session.token) is None
    assert open_token(KEY, "AKIDLONGTERM0000", session.token) is None


def test_a_token_cannot_be_extended() -> None:
    # Another key's session for a longer life does not open under this key.
    longer = _session(OTHER_KEY, seconds=10**6)
    assert open_token(KEY, longer.access_key_id, longer.token) is None


def test_issuer_mints_for_its_lifetime_and_remembers_opened_tokens() -> None:
    issuer = SessionIssuer(KEY, lifetime=900, cache_size=2)
    session = issuer.mint("123456789012", ROLE, FUNCTION, NOW)
    assert session.expires == NOW + timedelta(seconds=900)
    for _ in range(3):
        assert issuer.open(session.access_key_id, session.token) == session
    assert issuer.open(session.access_key_id, session.token[:-2]) is None


def test_role_account() -> None:
    assert role_account(ROLE) == "123456789012"
    assert role_account("arn:aws:iam::123456789012:user/bob") == ""
    assert role_account("arn:aws:iam:::role/x") == ""
    assert role_account("nonsense") == ""


def test_container_token_is_per_version_and_key() -> None:
    issuer = SessionIssuer(KEY, lifetime=900)
    token = issuer.container_token(FUNCTION, "3")
    assert token == issuer.container_token(FUNCTION, "3")
    assert token != issuer.container_token(FUNCTION, "4")
    assert token != SessionIssuer(OTHER_KEY, lifetime=900).container_token(FUNCTION, "3")
