"""Whose AWS identity signs the calls lambdad makes to other AWS services for an account.

lambdad reaches AWS (or any compatible endpoint) on its tenants' behalf: the S3 object of
``Code.S3Bucket``/``S3Key`` (CreateFunction, UpdateFunctionCode, PublishLayerVersion) and
the SQS, SNS and EventBridge targets of destinations and dead-letter queues, and the SNS
topics of alarm actions. Each such call is made for one lambdad account and is signed
with that account's own upstream identity, which the operator configures
(``LAMBDAD_OUTBOUND_CREDENTIALS``):

- ``ACCOUNT=profile:NAME``: a profile of the AWS shared config and credentials files
  (which may itself assume a role: ``role_arn`` + ``source_profile``);
- ``ACCOUNT=AKID:SECRET`` or ``ACCOUNT=AKID:SECRET:SESSION_TOKEN``: static keys.

lambdad's own identity (boto3's standard chain in its environment) is lent only to the
accounts the operator trusts with it (``LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS``): account
ids, ``generated`` (the account of the credential lambdad created in its data directory:
the operator's own in the single-user ``make serve`` case; nothing when credentials are
given explicitly) or ``*`` (every account: a server with one tenant). An account with
neither gets ``NoOutboundIdentity`` before anything is sent: lambdad never falls back to
its own identity, or to the host's instance or container role, for it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

EVERY_ACCOUNT = "*"
GENERATED_ACCOUNT = "generated"
_ACCOUNT = re.compile(r"\d{12}")
# Where a profile's credentials may come from: not lambdad's environment, nor the host's
# instance or container role (the server's own identity, by other means).
_SERVER_METHODS = frozenset({"env", "iam-role", "container-role"})


class NoOutboundIdentity(Exception):
    """An outbound call for an account that has no upstream identity lambdad may use."""

    def __init__(self, account: str, reason: str = "") -> None:
        super().__init__(
            reason or f"account {account} has no outbound AWS credentials configured in lambdad"
        )
        self.account = account


@dataclass(frozen=True, slots=True)
class UpstreamCredentials:
    """An account's own AWS identity: a named profile, or static keys."""

    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    def describe(self) -> str:
        """For logs: never the secret."""
        return f"profile {self.profile}" if self.profile else f"key {self.access_key_id}"


def parse_credentials(entries: Iterable[tuple[str, str]]) -> dict[str, UpstreamCredentials]:
    """``(account, "profile:NAME" | "AKID:SECRET[:TOKEN]")`` pairs; ValueError on a bad one."""
    out: dict[str, UpstreamCredentials] = {}
    for account, value in entries:
        account, value = account.strip(), value.strip()
        if not _ACCOUNT.fullmatch(account):
            raise ValueError(
                f"LAMBDAD_OUTBOUND_CREDENTIALS: {account!r} is not a 12-digit account id"
            )
        if value.startswith("profile:") and value.removeprefix("profile:"):
            out[account] = UpstreamCredentials(profile=value.removeprefix("profile:"))
            continue
        parts = value.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(
                f"LAMBDAD_OUTBOUND_CREDENTIALS: the entry of account {account} must be "
                "profile:NAME or AKID:SECRET[:SESSION_TOKEN]"
            )
        token = parts[2] if len(parts) == 3 and parts[2] else None
        out[account] = UpstreamCredentials(None, parts[0], parts[1], token)
    return out


def trusted_accounts(listed: Iterable[str], generated_account: str | None) -> frozenset[str]:
    """The accounts lambdad's own identity serves, ``generated`` replaced by its account."""
    out: set[str] = set()
    for item in (i.strip() for i in listed):
        if item == GENERATED_ACCOUNT:
            if generated_account is not None:
                out.add(generated_account)
        elif item == EVERY_ACCOUNT or _ACCOUNT.fullmatch(item):
            out.add(item)
        elif item:
            raise ValueError(
                f"LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS: {item!r} is not a 12-digit account id, "
                f"{GENERATED_ACCOUNT!r} or {EVERY_ACCOUNT!r}"
            )
    return frozenset(out)


class OutboundIdentities:
    """boto3 clients per account, each signed with the identity that account may use.

    Thread-safe: destinations are sent and S3 code fetched from worker threads.
    """

    def __init__(
        self,
        credentials: Mapping[str, UpstreamCredentials] | None = None,
        trusted: Iterable[str] = (),
    ) -> None:
        self.credentials = dict(credentials or {})
        self.trusted = frozenset(trusted)
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str | None, Any, str | None], Any] = {}

    def uses_server_identity(self, account: str) -> bool:
        return account not in self.credentials and (
            EVERY_ACCOUNT in self.trusted or account in self.trusted
        )

    def allowed(self, account: str) -> bool:
        """Whether calls for ``account`` can be signed at all."""
        return account in self.credentials or self.uses_server_identity(account)

    def client(
        self,
        account: str,
        service: str,
        region: str | None,
        config: Any = None,
        endpoint_url: str | None = None,
    ) -> Any:
        """A boto3 client for calls made for ``account`` (NoOutboundIdentity if none), at
        ``endpoint_url`` when given (else boto3's: ``AWS_ENDPOINT_URL_<SERVICE>``...)."""
        key = (account, service, region, config, endpoint_url)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                session = self._session(account)
                client = session.client(
                    service, region_name=region, config=config, endpoint_url=endpoint_url
                )
                self._clients[key] = client
            return client

    def signing_credentials(self, account: str) -> Any:
        """The botocore credentials (frozen) that sign calls made for ``account``, for a
        request boto3 does not make itself (NoOutboundIdentity if none)."""
        with self._lock:
            session = self._session(account)
        found = session.get_credentials()
        if found is None:
            raise NoOutboundIdentity(account)
        return found.get_frozen_credentials()

    def _session(self, account: str) -> Any:
        session = self._sessions.get(account)
        if session is not None:
            return session
        import boto3
        from botocore.exceptions import BotoCoreError

        own = self.credentials.get(account)
        if own is None:
            if not self.uses_server_identity(account):
                raise NoOutboundIdentity(account)
            session = boto3.session.Session()
        elif own.profile is not None:
            try:
                session = boto3.session.Session(profile_name=own.profile)
                found = session.get_credentials()
            except BotoCoreError as exc:
                raise NoOutboundIdentity(account, f"{own.describe()}: {exc}") from None
            method = getattr(found, "method", None)
            if found is None or method in _SERVER_METHODS:
                # A profile without credentials of its own would fall through to the
                # server's identity: refused rather than lent.
                raise NoOutboundIdentity(
                    account, f"{own.describe()} of account {account} has no credentials"
                )
        else:
            session = boto3.session.Session(
                aws_access_key_id=own.access_key_id,
                aws_secret_access_key=own.secret_access_key,
                aws_session_token=own.session_token,
            )
        log.info(
            "outbound calls for account %s use %s",
            account,
            "lambdad's own identity" if own is None else own.describe(),
        )
        self._sessions[account] = session
        return session
