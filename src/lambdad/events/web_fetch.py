"""Small outbound HTTP GETs the push doors make: an SNS signing certificate, an SNS
``SubscribeURL``. Blocking (callers run them in a thread), bounded in time and size,
and never following a redirect: the caller checked the URL it asked for, and a
redirect would take the request somewhere nobody checked.

``ServiceSigner`` signs such a GET with SigV4 when it goes to an endpoint standing in
for an AWS service (moto, LocalStack), which routes unsigned requests by guesswork: as
every call lambdad makes for an account, with that account's outbound identity."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from lambdad.outbound import NoOutboundIdentity, OutboundIdentities

MAX_BYTES = 64 * 1024
TIMEOUT = 5.0


class FetchError(Exception):
    """The URL could not be fetched (refused, unreachable, redirected, too large)."""


class Web(Protocol):
    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        """The body of a 2xx answer to ``GET url``; FetchError otherwise."""
        ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx itself is then raised as an HTTPError


class UrllibWeb:
    def __init__(self, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._opener = urllib.request.build_opener(_NoRedirects())

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        request = urllib.request.Request(url, headers=dict(headers or {}))
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                body: bytes = answer.read(self.max_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"GET {url}: {exc}") from None
        if len(body) > self.max_bytes:
            raise FetchError(f"GET {url}: more than {self.max_bytes} bytes")
        return body


class ServiceSigner:
    def __init__(self, identities: OutboundIdentities) -> None:
        self.identities = identities

    def headers(self, url: str, account: str, service: str, region: str) -> dict[str, str]:
        """SigV4 headers for ``GET url`` to ``service`` in ``region``, signed for
        ``account``; none when the account has no outbound identity."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        try:
            credentials = self.identities.signing_credentials(account)
        except NoOutboundIdentity:
            return {}
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(credentials, service, region).add_auth(request)
        return {k: v for k, v in request.headers.items() if k.lower() != "host"}
