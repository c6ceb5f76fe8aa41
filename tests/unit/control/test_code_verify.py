"""The checks of a package against a code signing configuration, in AWS's order."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest

from lambdad.clock import FakeClock
from lambdad.control.code_verify import Failure, judge
from lambdad.control.signing_profiles import SigningProfiles
from lambdad.errors import InvalidCodeSignatureException
from lambdad.model.code_signature import split, with_comment
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.sqlite import SqliteStore

SCOPE = Scope("111122223333", "us-east-1")


def package() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return out.getvalue()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def profiles(store: SqliteStore, clock: FakeClock) -> SigningProfiles:
    return SigningProfiles(store, Sealer(b"k" * 32), clock)


def test_a_trusted_intact_signature_passes(profiles: SigningProfiles, clock: FakeClock) -> None:
    arn = profiles.create(SCOPE, "team", None)["ProfileVersionArn"]
    verdict = judge(split(profiles.sign(SCOPE, "team", package())), [arn], profiles, clock)
    assert verdict.failure is None
    assert verdict.profile_version_arn == arn
    # The profile's ARN (without the version) trusts every version of it.
    profile = arn.rsplit("/", 1)[0]
    assert (
        judge(split(profiles.sign(SCOPE, "team", package())), [profile], profiles, clock).failure
        is None
    )


def test_unsigned_and_untrusted_are_mismatches(profiles: SigningProfiles, clock: FakeClock) -> None:
    trusted = profiles.create(SCOPE, "trusted", None)["ProfileVersionArn"]
    profiles.create(SCOPE, "other", None)
    assert judge(split(package()), [trusted], profiles, clock).failure is Failure.MISMATCH
    signed = profiles.sign(SCOPE, "other", package())
    assert judge(split(signed), [trusted], profiles, clock).failure is Failure.MISMATCH


def test_a_changed_package_fails_integrity(profiles: SigningProfiles, clock: FakeClock) -> None:
    arn = profiles.create(SCOPE, "team", None)["ProfileVersionArn"]
    signed = split(profiles.sign(SCOPE, "team", package()))
    other = package().replace(b"return e", b"return 0")
    moved = with_comment(other, b"")
    forged = split(moved)
    assert signed.envelope is not None
    with pytest.raises(InvalidCodeSignatureException):
        judge(type(forged)(forged.content_digest, signed.envelope), [arn], profiles, clock)


def test_expiry_and_revocation(profiles: SigningProfiles, clock: FakeClock) -> None:
    arn = profiles.create(SCOPE, "team", 1)["ProfileVersionArn"]
    signed = split(profiles.sign(SCOPE, "team", package()))
    clock.advance(timedelta(days=2).total_seconds())
    assert judge(signed, [arn], profiles, clock).failure is Failure.EXPIRED

    arn = profiles.create(SCOPE, "team", None)["ProfileVersionArn"]
    before = split(profiles.sign(SCOPE, "team", package()))
    clock.advance(60)
    profiles.revoke(SCOPE, "team", arn.rsplit("/", 1)[1], clock.now(), "leaked")
    # Signatures from before the effective time stay valid, as AWS Signer's do.
    assert judge(before, [arn], profiles, clock).failure is None
    profiles.revoke(SCOPE, "team", arn.rsplit("/", 1)[1], clock.now() - timedelta(days=1), "")
    assert judge(before, [arn], profiles, clock).failure is Failure.REVOKED
