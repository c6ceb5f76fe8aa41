"""OutboundIdentities with real boto3 sessions and AWS config files (no network).

The identity a client signs with is read back from the client itself; nothing is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambdad.outbound import NoOutboundIdentity, OutboundIdentities, UpstreamCredentials

TENANT, STRANGER = "111122223333", "222233334444"


@pytest.fixture(autouse=True)
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """lambdad's own identity in its environment, and a credentials file with profiles."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[tenant]\naws_access_key_id = AKIDTENANT\naws_secret_access_key = tenant-secret\n"
        "[empty]\nregion = us-east-1\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSERVER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return credentials


def _signer_key(client: Any) -> str:
    key: str = client._request_signer._credentials.access_key
    return key


def test_each_account_signs_with_its_own_identity() -> None:
    identities = OutboundIdentities(
        {
            TENANT: UpstreamCredentials(profile="tenant"),
            STRANGER: UpstreamCredentials(None, "AKIDSTATIC", "s", "token"),
        },
        trusted={"999999999999"},
    )
    assert _signer_key(identities.client(TENANT, "sqs", "us-east-1")) == "AKIDTENANT"
    static = identities.client(STRANGER, "sns", "us-east-1")
    assert _signer_key(static) == "AKIDSTATIC"
    assert static._request_signer._credentials.token == "token"
    assert _signer_key(identities.client("999999999999", "s3", "us-east-1")) == "AKIDSERVER"


def test_an_account_with_no_identity_gets_none() -> None:
    identities = OutboundIdentities(trusted={TENANT})
    with pytest.raises(NoOutboundIdentity, match=STRANGER):
        identities.client(STRANGER, "s3", "us-east-1")


@pytest.mark.parametrize("profile", ["empty", "missing"])
def test_a_profile_never_falls_back_to_lambdads_identity(profile: str) -> None:
    # A profile without keys would get lambdad's own from its environment.
    identities = OutboundIdentities({TENANT: UpstreamCredentials(profile=profile)})
    with pytest.raises(NoOutboundIdentity, match=f"profile {profile}"):
        identities.client(TENANT, "s3", "us-east-1")
