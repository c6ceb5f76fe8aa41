"""Upstream credentials: what lambdad signs a function's calls with, per role and service.

A function holds only its role session's keys (model/session.py), which nothing but
lambdad accepts. Where an operator-mapped endpoint (model/endpoints.py) is another
AWS-compatible system that checks signatures (a real AWS account, MinIO, DynamoDB
Local, LocalStack), the operator gives, per execution role and per service, the keys
lambdad signs with instead (``lambdad roles upstream``). The relay of that endpoint
(environments/upstream_proxy.py) checks the session's signature on each request and
signs it again with these keys; the function never sees them.

``{"ROLE_ARN": {"SERVICE": {"AccessKeyId": ..., "SecretAccessKey": ...,
"SessionToken": ... (optional), "Region": ... (optional: the function's)}}}``:
``SERVICE`` is the name requests are signed for (``s3``, ``dynamodb``, ``sqs``...), or
``*`` for any. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ANY_SERVICE = "*"
_FIELDS = {"AccessKeyId", "SecretAccessKey", "SessionToken", "Region"}


@dataclass(frozen=True, slots=True)
class UpstreamCredential:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    # The region the upstream call is signed for (None: the one the function signed).
    region: str | None = None

    def as_document(self) -> dict[str, str]:
        doc = {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key}
        if self.session_token:
            doc["SessionToken"] = self.session_token
        if self.region:
            doc["Region"] = self.region
        return doc


# role ARN -> service -> credential
UpstreamTable = Mapping[str, Mapping[str, UpstreamCredential]]


def credential_for(table: UpstreamTable, role_arn: str, service: str) -> UpstreamCredential | None:
    """The keys a request of ``role_arn``'s session to ``service`` is signed with
    upstream: the service's own, else the role's ``*``; None: it passes unchanged."""
    services = table.get(role_arn)
    if not services:
        return None
    return services.get(service) or services.get(ANY_SERVICE)


def parse(doc: object) -> dict[str, dict[str, UpstreamCredential]]:
    """The table of a document as the file holds it; ValueError says what is wrong
    (never with a secret in the message)."""
    if not isinstance(doc, dict):
        raise ValueError("must hold an object of role ARN -> service -> credentials")
    out: dict[str, dict[str, UpstreamCredential]] = {}
    for role, services in doc.items():
        if not isinstance(services, dict):
            raise ValueError(f"role {role}: must be an object of service -> credentials")
        out[str(role)] = {
            str(service): _credential(entry, f"role {role}, service {service}")
            for service, entry in services.items()
        }
    return out


def _credential(entry: object, where: str) -> UpstreamCredential:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    values = {k: v for k, v in entry.items() if v is not None}
    if not all(isinstance(v, str) for v in values.values()):
        raise ValueError(f"{where}: every field must be a string")
    key, secret = values.get("AccessKeyId", ""), values.get("SecretAccessKey", "")
    if not key or not secret:
        raise ValueError(f"{where}: AccessKeyId and SecretAccessKey are required")
    return UpstreamCredential(key, secret, values.get("SessionToken"), values.get("Region"))


def as_document(table: UpstreamTable) -> dict[str, dict[str, dict[str, str]]]:
    return {
        role: {service: c.as_document() for service, c in sorted(services.items())}
        for role, services in sorted(table.items())
        if services
    }
