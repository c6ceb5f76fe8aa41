"""The console's session core: opening, expiry (lifetime and idle), sign-out, a
rotated secret, CSRF tokens and the same-origin check."""

from __future__ import annotations

from lambdad.console.sessions import (
    SessionBook,
    check_secret,
    csrf_ok,
    same_origin,
    still_valid,
)
from lambdad.model.credential import Credential

KEY = Credential("AKIDEXAMPLE", "s3cret", "123456789012")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_session_is_found_by_its_token_only() -> None:
    book = SessionBook(Clock())
    token, session = book.open(KEY, "eu-west-1")
    found = book.find(token)
    assert found is not None
    assert (found.account, found.region, found.access_key_id) == (
        "123456789012",
        "eu-west-1",
        "AKIDEXAMPLE",
    )
    assert book.find(token + "x") is None
    assert book.find("") is None
    assert session.csrf
    assert session.csrf != token


def test_the_book_keeps_no_token() -> None:
    book = SessionBook(Clock())
    token, _ = book.open(KEY, "us-east-1")
    assert token not in repr(vars(book))


def test_sessions_end_after_their_lifetime_even_when_used() -> None:
    clock = Clock()
    book = SessionBook(clock, lifetime=100, idle=60)
    token, _ = book.open(KEY, "us-east-1")
    for _ in range(3):
        clock.t += 30
        assert book.find(token) is not None
    clock.t += 30  # 120 s after opening
    assert book.find(token) is None


def test_sessions_end_when_idle() -> None:
    clock = Clock()
    book = SessionBook(clock, lifetime=1000, idle=60)
    token, _ = book.open(KEY, "us-east-1")
    clock.t += 59
    assert book.peek(token) is not None
    clock.t += 1
    assert book.peek(token) is None
    assert book.find(token) is None


def test_sign_out_ends_the_session() -> None:
    book = SessionBook(Clock())
    token, _ = book.open(KEY, "us-east-1")
    book.close(token)
    assert book.find(token) is None
    assert len(book) == 0


def test_region_changes_stay_with_the_session() -> None:
    book = SessionBook(Clock())
    token, _ = book.open(KEY, "us-east-1")
    other, _ = book.open(KEY, "us-east-1")
    book.set_region(token, "ap-south-1")
    assert book.find(token).region == "ap-south-1"  # type: ignore[union-attr]
    assert book.find(other).region == "us-east-1"  # type: ignore[union-attr]


def test_too_many_sessions_drop_the_least_recently_used() -> None:
    clock = Clock()
    book = SessionBook(clock, max_sessions=2)
    first, _ = book.open(KEY, "us-east-1")
    clock.t += 1
    second, _ = book.open(KEY, "us-east-1")
    clock.t += 1
    book.find(first)
    clock.t += 1
    book.open(KEY, "us-east-1")
    assert book.find(first) is not None
    assert book.find(second) is None


def test_a_rotated_or_removed_credential_ends_the_session() -> None:
    book = SessionBook(Clock())
    _, session = book.open(KEY, "us-east-1")
    assert still_valid(session, KEY)
    assert not still_valid(session, Credential("AKIDEXAMPLE", "new-secret", "123456789012"))
    assert not still_valid(session, Credential("AKIDEXAMPLE", "s3cret", "999999999999"))
    assert not still_valid(session, None)


def test_secrets_are_checked_exactly() -> None:
    assert check_secret(KEY, "s3cret")
    assert not check_secret(KEY, "s3cret ")
    assert not check_secret(KEY, "")
    assert not check_secret(None, "s3cret")


def test_csrf_tokens_must_match_the_session() -> None:
    book = SessionBook(Clock())
    _, session = book.open(KEY, "us-east-1")
    _, other = book.open(KEY, "us-east-1")
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, other.csrf)
    assert not csrf_ok(session, None)
    assert not csrf_ok(session, "")


def test_state_changes_come_from_this_origin() -> None:
    host = {"host": "127.0.0.1:9550"}
    assert same_origin({**host, "origin": "http://127.0.0.1:9550"})
    assert not same_origin({**host, "origin": "http://evil.example"})
    assert not same_origin({**host, "origin": "null"})
    # Without an Origin, the Referer decides; with neither, no.
    assert same_origin({**host, "referer": "http://127.0.0.1:9550/console/functions"})
    assert not same_origin({**host, "referer": "http://127.0.0.1:95501/console"})
    assert not same_origin(host)
    assert not same_origin({"origin": "http://127.0.0.1:9550"})
