"""Which identity an account's outbound calls may use (parsing and the decision; no I/O)."""

from __future__ import annotations

import pytest

from lambdad.config import Settings
from lambdad.outbound import (
    NoOutboundIdentity,
    OutboundIdentities,
    UpstreamCredentials,
    parse_credentials,
    trusted_accounts,
)

A, B, C = "111122223333", "222233334444", "333344445555"


def test_entries_name_a_profile_or_static_keys() -> None:
    parsed = parse_credentials(
        [(A, "profile:tenant-a"), (B, "AKIDB:secret/b+="), (C, "AKIDC:secret:token==")]
    )
    assert parsed == {
        A: UpstreamCredentials(profile="tenant-a"),
        B: UpstreamCredentials(None, "AKIDB", "secret/b+="),
        C: UpstreamCredentials(None, "AKIDC", "secret", "token=="),
    }
    # Logs name a key or a profile, never a secret.
    assert parsed[B].describe() == "key AKIDB"
    assert parsed[A].describe() == "profile tenant-a"


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (("12345", "AK:SK"), "not a 12-digit account id"),
        ((A, "AKONLY"), "profile:NAME or AKID:SECRET"),
        ((A, "profile:"), "profile:NAME or AKID:SECRET"),
        ((A, ":secret"), "profile:NAME or AKID:SECRET"),
    ],
)
def test_bad_entries_stop_start_up_with_what_to_fix(entry: tuple[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as exc:
        parse_credentials([entry])
    assert "secret" not in str(exc.value).replace("SECRET", "")


def test_the_settings_read_entries_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "LAMBDAD_OUTBOUND_CREDENTIALS": f"{A}=profile:a,{B}=AK:SK:TOKEN",
            "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": f"{C},generated",
        }
    )
    assert parse_credentials(settings.outbound_credentials).keys() == {A, B}
    assert trusted_accounts(settings.outbound_trusted_accounts, "999988887777") == {
        C,
        "999988887777",
    }


def test_by_default_only_the_generated_account_is_trusted() -> None:
    default = Settings().outbound_trusted_accounts
    # make serve: the data directory's generated credential is the operator's own.
    assert trusted_accounts(default, A) == {A}
    # Credentials given explicitly: nobody, unless the operator lists them.
    assert trusted_accounts(default, None) == frozenset()
    assert trusted_accounts([], A) == frozenset()
    with pytest.raises(ValueError, match="LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS"):
        trusted_accounts(["everyone"], None)


def test_an_accounts_own_identity_wins_over_trust() -> None:
    identities = OutboundIdentities(
        {A: UpstreamCredentials(profile="a")}, trusted=trusted_accounts([A, B], None)
    )
    assert identities.allowed(A)
    assert not identities.uses_server_identity(A)
    assert identities.allowed(B)
    assert identities.uses_server_identity(B)
    assert not identities.allowed(C)
    every = OutboundIdentities(trusted=trusted_accounts(["*"], None))
    assert every.uses_server_identity(C)


def test_signing_credentials_are_the_accounts_own_and_never_lent() -> None:
    identities = OutboundIdentities({A: UpstreamCredentials(None, "AKIDA", "secret-a")})
    frozen = identities.signing_credentials(A)
    assert (frozen.access_key, frozen.secret_key) == ("AKIDA", "secret-a")
    with pytest.raises(NoOutboundIdentity):
        identities.signing_credentials(B)
