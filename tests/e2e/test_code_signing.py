"""Code signing as a user sets it up: a signing profile and a signed package with
``lambdad signing-profile create`` and ``lambdad sign``, a configuration through the
AWS CLI and boto3, and every check a deployment goes through (unsigned, tampered,
untrusted, revoked; Enforce and Warn)."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import OTHER, LambdadServer, client_env, handler_zip
from e2e.helpers import run_lambdad as run


def _profile(lambdad: LambdadServer) -> str:
    name = "p_" + uuid.uuid4().hex[:12]
    proc = run("signing-profile", "create", name, env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    arn = proc.stdout.strip()
    assert arn.startswith(f"arn:aws:signer:{lambdad.region}:")
    assert f"/{name}/" in arn
    return arn


def _sign(lambdad: LambdadServer, arn: str, archive: bytes, tmp_path: Path) -> bytes:
    source = tmp_path / f"{uuid.uuid4().hex}.zip"
    source.write_bytes(archive)
    proc = run("sign", str(source), "--profile", arn.split("/")[-2], env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip()).read_bytes()


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_enforce_lets_only_trusted_intact_signed_code_deploy(
    lambdad: LambdadServer,
    new_function: Callable[..., dict[str, Any]],
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    client = lambdad.client("lambda")
    profile = _profile(lambdad)
    config = lambdad.aws(
        "lambda",
        "create-code-signing-config",
        "--allowed-publishers",
        f"SigningProfileVersionArns={profile}",
        "--code-signing-policies",
        "UntrustedArtifactOnDeployment=Enforce",
    )["CodeSigningConfig"]
    arn = config["CodeSigningConfigArn"]
    assert re.fullmatch(r"csc-[a-z0-9]{17}", config["CodeSigningConfigId"])
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}

    name = unique_name()
    with pytest.raises(ClientError) as unsigned:
        new_function(handler_zip(), FunctionName=name, CodeSigningConfigArn=arn)
    code, message = _error(unsigned)
    assert code == "CodeVerificationFailedException"
    assert message.startswith("Lambda cannot deploy the function.")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName=name)

    signed = _sign(lambdad, profile, handler_zip(), tmp_path)
    created = new_function(signed, FunctionName=name, CodeSigningConfigArn=arn)
    assert created["SigningProfileVersionArn"] == profile
    assert ":/signing-jobs/" in created["SigningJobArn"]
    answer = client.invoke(FunctionName=name, Payload=b'{"signed": true}')
    assert answer["Payload"].read() == b'{"signed": true}'
    assert client.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == arn
    listed = client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)
    assert listed["FunctionArns"] == [created["FunctionArn"]]

    # A member changed after signing: the integrity check fails, whatever the policy.
    tampered = _retouch(signed)
    for policy in ("Enforce", "Warn"):
        client.update_code_signing_config(
            CodeSigningConfigArn=arn,
            CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
        )
        with pytest.raises(ClientError) as broken:
            client.update_function_code(FunctionName=name, ZipFile=tampered)
        assert _error(broken)[0] == "InvalidCodeSignatureException"

    # Under Warn, unsigned code deploys (and records no signing).
    updated = client.update_function_code(FunctionName=name, ZipFile=handler_zip())
    assert "SigningProfileVersionArn" not in updated

    # Revoked from before a signing: that signature is not trusted under Enforce.
    client.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"}
    )
    profile_name, version = profile.split("/")[-2:]
    proc = run(
        "signing-profile", "revoke", profile_name, version,
        "--effective-time", "2020-01-01T00:00:00+00:00", env=client_env(lambdad),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(ClientError) as revoked:
        client.update_function_code(FunctionName=name, ZipFile=signed)
    assert _error(revoked)[0] == "CodeVerificationFailedException"

    # In use, the configuration stays; detached, it goes.
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.delete_code_signing_config(CodeSigningConfigArn=arn)
    client.delete_function_code_signing_config(FunctionName=name)
    assert client.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == ""
    client.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_code_signing_config(CodeSigningConfigArn=arn)


def test_a_profile_not_allowed_is_a_mismatch_and_a_missing_config_is_named(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    client = lambdad.client("lambda")
    trusted, other = _profile(lambdad), _profile(lambdad)
    arn = client.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [trusted]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    with pytest.raises(ClientError) as mismatch:
        new_function(_sign(lambdad, other, handler_zip(), tmp_path), CodeSigningConfigArn=arn)
    assert _error(mismatch)[0] == "CodeVerificationFailedException"

    gone = arn[:-17] + "0" * 17
    with pytest.raises(ClientError) as missing:
        new_function(handler_zip(), CodeSigningConfigArn=gone)
    code, message = _error(missing)
    assert code == "CodeSigningConfigNotFoundException"
    assert gone in message
    # Another account sees none of it.
    foreign = lambdad.client("lambda", account=OTHER.account_id)
    with pytest.raises(ClientError) as hidden:
        foreign.get_code_signing_config(CodeSigningConfigArn=arn)
    assert _error(hidden)[0] == "ResourceNotFoundException"
    client.delete_code_signing_config(CodeSigningConfigArn=arn)


def _retouch(archive: bytes) -> bytes:
    """``archive`` with one member's bytes changed and its comment (the signature) kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data + b"\n# changed\n" if info.filename.endswith(".py") else data)
        dst.comment = src.comment
    return out.getvalue()


@pytest.mark.parametrize("name", ["my profile!", "team/release"])
def test_a_profile_name_out_of_shape_is_refused_not_a_traceback(
    lambdad: LambdadServer, name: str
) -> None:
    proc = run("signing-profile", "create", name, env=client_env(lambdad))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "A signing profile name is 2 to 64 letters, digits and underscores" in proc.stderr
