"""Where a package's signature travels (its archive comment) and what it covers."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest

from lambdad.model import code_signature
from lambdad.model.code_signature import Envelope, MalformedSignature, split, with_comment

WHEN = datetime(2026, 12, 5, tzinfo=UTC)


def archive(text: str = "print('hi')\n", comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("app.py", text)
        z.comment = comment
    return out.getvalue()


def envelope(signature: bytes = b"sig") -> Envelope:
    return Envelope(
        "arn:aws:signer:us-east-1:1:/signing-profiles/p/V1", "job", WHEN, WHEN, signature
    )


def test_a_signed_archive_is_still_an_ordinary_archive() -> None:
    signed = with_comment(archive(), envelope().encode())
    with zipfile.ZipFile(io.BytesIO(signed)) as z:
        assert z.read("app.py") == b"print('hi')\n"
    found = split(signed)
    assert found.envelope == envelope()


def test_what_is_signed_ignores_the_comment_and_covers_every_member() -> None:
    plain = split(archive()).content_digest
    assert split(archive(comment=b"anything")).content_digest == plain
    assert split(with_comment(archive(), envelope().encode())).content_digest == plain
    assert split(archive("print('other')\n")).content_digest != plain


def test_the_claims_bind_the_digest_profile_job_and_times() -> None:
    base = envelope().claims(b"d")
    assert envelope().claims(b"e") != base
    moved = Envelope("arn:other", "job", WHEN, WHEN, b"sig")
    assert moved.claims(b"d") != base


def test_no_signature_and_not_an_archive_have_no_envelope() -> None:
    assert split(archive(comment=b"made by zip")).envelope is None
    assert split(b"not a zip at all").envelope is None
    with pytest.raises(ValueError, match=r"not a \.zip"):
        with_comment(b"not a zip at all", b"x")


@pytest.mark.parametrize(
    "comment", [code_signature.MARKER + b"{", code_signature.MARKER + b'{"profile": 1}']
)
def test_an_unreadable_signature_is_malformed(comment: bytes) -> None:
    with pytest.raises(MalformedSignature):
        split(archive(comment=comment))


def test_a_comment_that_looks_like_the_end_record_does_not_confuse_the_split() -> None:
    tricky = b"PK\x05\x06" + b"\x00" * 30
    signed = with_comment(archive(comment=tricky), envelope().encode())
    assert split(signed).envelope == envelope()
