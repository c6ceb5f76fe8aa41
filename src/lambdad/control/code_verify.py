"""Checking a deployment package against a function's code signing configuration.

AWS's checks, in its order: integrity (the signature matches the package: a failure
always blocks, as ``InvalidCodeSignatureException``), then the publisher (a signing
profile version the configuration allows; an unsigned package fails here), expiry and
revocation, which block under ``Enforce`` (``CodeVerificationFailedException``) and are
logged as a warning under ``Warn``.

The configurations and which function uses which are kept by ``control/code_signing``
(the ``code-signing-config`` and ``code-signing-binding`` children this reads).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from lambdad.clock import Clock
from lambdad.control.signing_profiles import SigningProfiles
from lambdad.errors import (
    CodeSigningConfigNotFoundException,
    CodeVerificationFailedException,
    InvalidCodeSignatureException,
    ResourceNotFoundException,
)
from lambdad.model import code_signature
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

CONFIG_KIND = "code-signing-config"
BINDING_KIND = "code-signing-binding"
CONFIG_NAME = "csc:"


class Failure(Enum):
    MISMATCH = "the package is not signed by a publisher the configuration allows"
    EXPIRED = "the signature has expired"
    REVOKED = "the signing profile version was revoked before the package was signed"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks found: the trusted signing (None: none to record) and the
    first check that failed (None: every one passed)."""

    profile_version_arn: str | None
    job_arn: str | None
    failure: Failure | None


def csc_id(arn: str) -> str | None:
    """The id of a code signing configuration ARN (None: not one)."""
    _, sep, tail = arn.rpartition(":code-signing-config:")
    return tail if sep and tail.startswith("csc-") else None


def judge(
    signed: code_signature.SignedArchive,
    allowed: list[str],
    profiles: SigningProfiles,
    clock: Clock,
) -> Verdict:
    """The checks of a package, in AWS's order (InvalidCodeSignatureException: the
    integrity check failed)."""
    envelope = signed.envelope
    if envelope is None:
        return Verdict(None, None, Failure.MISMATCH)
    version = profiles.version(envelope.profile_version_arn)
    if version is None:
        return Verdict(None, None, Failure.MISMATCH)
    if not version.verify(envelope.signature, envelope.claims(signed.content_digest)):
        raise InvalidCodeSignatureException(
            "The code signature failed the integrity check. Lambda blocks the deployment "
            "even when the code signing policy is Warn."
        )
    region, account = version.arn.split(":")[3:5]
    job_arn = f"arn:aws:signer:{region}:{account}:/signing-jobs/{envelope.job_id}"
    failure = None
    if version.arn not in allowed and version.profile_arn not in allowed:
        failure = Failure.MISMATCH
    elif envelope.expires_at <= clock.now():
        failure = Failure.EXPIRED
    elif version.revoked_from is not None and version.revoked_from <= envelope.signed_at:
        failure = Failure.REVOKED
    return Verdict(version.arn, job_arn, failure)


class CodeVerifier:
    def __init__(self, store: MetadataStore, profiles: SigningProfiles, clock: Clock) -> None:
        self.store = store
        self.profiles = profiles
        self.clock = clock

    def config(self, scope: Scope, arn: str, *, by_function: bool = True) -> Doc:
        """The configuration an ARN names, in the caller's account and region.

        Not found: CodeSigningConfigNotFoundException where a function names it
        (``by_function``), ResourceNotFoundException from the configuration's own
        operations, as AWS answers."""
        cid = csc_id(arn)
        doc = None
        if cid is not None and f":{scope.region}:{scope.account}:" in arn:
            doc = self.store.get_child(CONFIG_KIND, scope.account, scope.region, CONFIG_NAME, cid)
        if doc is None and not by_function:
            raise ResourceNotFoundException(f"Code signing configuration not found: {arn}")
        if doc is None:
            raise CodeSigningConfigNotFoundException(
                f"The code signing configuration cannot be found. Check that the provided "
                f"configuration is not deleted: {arn}."
            )
        return doc

    def bound_config(self, scope: Scope, function_name: str) -> str | None:
        binding = self.store.get_child(BINDING_KIND, scope.account, scope.region, function_name, "")
        return None if binding is None else str(binding["CodeSigningConfigArn"])

    def check(
        self, scope: Scope, function_name: str, config_arn: str | None, data: bytes
    ) -> dict[str, str]:
        """Check ``data`` for the function (under ``config_arn``, else the configuration
        the function uses); the signing members its version records ({}: none)."""
        arn = config_arn or self.bound_config(scope, function_name)
        if arn is None:
            return {}
        config = self.config(scope, arn)
        try:
            signed = code_signature.split(data)
        except code_signature.MalformedSignature:
            raise InvalidCodeSignatureException(
                "The code signature failed the integrity check: the signature cannot be read."
            ) from None
        allowed = list(config["AllowedPublishers"]["SigningProfileVersionArns"])
        verdict = judge(signed, allowed, self.profiles, self.clock)
        if verdict.failure is not None:
            policy = config["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"]
            if policy == "Enforce":
                raise CodeVerificationFailedException(
                    "Lambda cannot deploy the function. The function or layer might be signed "
                    "using a signature that the client is not configured to accept. Check the "
                    f"provided signature for {function_name}."
                )
            log.warning(
                "code signing check failed for %s/%s/%s under Warn (%s): deployed anyway",
                scope.account,
                scope.region,
                function_name,
                verdict.failure.value,
            )
        if verdict.profile_version_arn is None or verdict.job_arn is None:
            return {}
        return {
            "SigningProfileVersionArn": verdict.profile_version_arn,
            "SigningJobArn": verdict.job_arn,
        }
