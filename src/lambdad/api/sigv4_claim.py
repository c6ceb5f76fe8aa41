"""What a request says about its own signature, before any of it is checked.

Owns reading a SigV4 claim out of the ``Authorization`` header or a presigned URL's
query parameters (credential scope, signing time, signed headers, signature, a
presigned URL's lifetime), refusing a malformed one with AWS's own messages, and the
time window a claim must fall in (the clock skew, or a presigned URL's expiry).
Whether the signature itself is right is ``sigv4``'s question.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple

from lambdad.api.sigv4_signing import ALGORITHM, TERMINATOR, first, format_amz_date, utc
from lambdad.errors import IncompleteSignatureException, InvalidSignatureException

MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600


class Claim(NamedTuple):
    """What a request says about its own signature, before any of it is checked (a
    tuple: one per request, built for a fraction of a frozen dataclass's cost)."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    amz_date: str
    signed_at: datetime
    signed_headers: str
    signature: str
    # Presigned URLs may carry their own lifetime; otherwise the skew window applies.
    expires: int | None


def claim_from_header(authorization: str, by_name: dict[str, list[str]]) -> Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, found, value = item.strip().partition("=")
        if found:
            fields.setdefault(key, value.strip())

    amz_date = first(by_name, "x-amz-date")
    if amz_date is None:
        http_date = first(by_name, "date")
        if http_date is not None:
            amz_date = _amz_date_from_http_date(http_date)

    credential = fields.get("Credential")
    signed_headers = fields.get("SignedHeaders")
    signature = fields.get("Signature")
    if credential and signed_headers and signature and amz_date is not None:
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'")
        return _claim(credential, amz_date, signed_headers, signature, None)
    # AWS names every missing piece at once, then echoes the header.
    problems = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    raise IncompleteSignatureException("".join(problems) + f"Authorization={authorization}")


def claim_from_query(params: list[tuple[str, str]]) -> Claim:
    fields: dict[str, str] = {}
    for key, value in params:
        fields.setdefault(key, value)
    for name in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
    ):
        if not fields.get(name):
            raise IncompleteSignatureException(
                f"AWS query-string parameters must include '{name}'. "
                "Re-examine the query-string parameters."
            )
    if fields["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{fields['X-Amz-Algorithm']}'"
        )
    raw_expires = fields.get("X-Amz-Expires")
    expires = None
    if raw_expires is not None:
        if not (raw_expires.isascii() and raw_expires.isdigit()):
            raise IncompleteSignatureException("X-Amz-Expires should be a number")
        # Bounded before int(): thousands of digits are refused, not converted.
        digits = raw_expires.lstrip("0") or "0"
        expires = int(digits) if len(digits) <= 7 else MAX_PRESIGNED_EXPIRES + 1
        if expires > MAX_PRESIGNED_EXPIRES:
            raise IncompleteSignatureException(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
    return _claim(
        fields["X-Amz-Credential"],
        fields["X-Amz-Date"],
        fields["X-Amz-SignedHeaders"],
        fields["X-Amz-Signature"],
        expires,
    )


def _claim(
    credential: str, amz_date: str, signed_headers: str, signature: str, expires: int | None
) -> Claim:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, scope_date, region, service, terminator = parts
    signed_at = _parse_amz_date(amz_date)
    if terminator != TERMINATOR:
        raise IncompleteSignatureException(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'."
        )
    if not region:
        raise IncompleteSignatureException("Credential should be scoped to a valid region. ")
    if not service:
        raise IncompleteSignatureException("Credential should be scoped to correct service. ")
    if scope_date != amz_date[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    return Claim(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        amz_date=amz_date,
        signed_at=signed_at,
        signed_headers=signed_headers,
        signature=signature,
        expires=expires,
    )


def check_time(claim: Claim, now: datetime) -> None:
    now = utc(now)
    signed_at = claim.signed_at
    if signed_at - now > MAX_CLOCK_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {claim.amz_date} is still later than "
            f"{format_amz_date(now + MAX_CLOCK_SKEW)} ({format_amz_date(now)} + 15 min.)"
        )
    if claim.expires is None:
        if now - signed_at > MAX_CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {claim.amz_date} is now earlier than "
                f"{format_amz_date(now - MAX_CLOCK_SKEW)} ({format_amz_date(now)} - 15 min.)"
            )
    elif now - signed_at > timedelta(seconds=claim.expires):
        raise InvalidSignatureException(
            f"Signature expired: {claim.amz_date} is now earlier than "
            f"{format_amz_date(now - timedelta(seconds=claim.expires))} "
            f"({format_amz_date(now)} - {claim.expires} sec.)"
        )


@lru_cache(maxsize=256)
def _parse_amz_date(value: str) -> datetime:
    # strptime is the slowest step of a verify; the basic format is fixed-width anyway.
    # Cached: every request signed within the same second carries the same date.
    digits = value[:8] + value[9:15]
    if len(value) == 16 and value[8] == "T" and value[15] == "Z" and digits.isascii():
        try:
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
        except ValueError:
            pass
    raise IncompleteSignatureException(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _amz_date_from_http_date(value: str) -> str:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        # Let the ISO-8601 check reject it with AWS's message.
        return value
    return format_amz_date(parsed)
