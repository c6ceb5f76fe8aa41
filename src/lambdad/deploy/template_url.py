"""``TemplateURL``: a template kept in S3 (where ``aws cloudformation deploy --s3-bucket``
and SAM CLI put large ones), read with the identity the caller's account may use
outbound (``outbound.OutboundIdentities``), never lambdad's own. AWS's limit on a
template there is 1 MB."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.stack_records import Where
from lambdad.outbound import NoOutboundIdentity, OutboundIdentities

MAX_BYTES = 1024 * 1024


def locate(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 URL: path style (``https://s3[.REGION].amazonaws.com/B/K``,
    or any host with the bucket first in the path) or virtual-hosted
    (``https://B.s3[.REGION].amazonaws.com/K``)."""
    parts = urlsplit(url)
    host, path = (parts.hostname or ""), unquote(parts.path).lstrip("/")
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(f"TemplateURL must be an Amazon S3 URL: {url[:200]}")
    if ".s3." in host or ".s3-" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise ValidationError(f"TemplateURL must name a bucket and a key: {url[:200]}")
    return bucket, key


def fetch(outbound: OutboundIdentities, where: Where, url: str) -> str:
    bucket, key = locate(url)
    try:
        s3 = outbound.client(where.account, "s3", where.region)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            data: bytes = body.read(MAX_BYTES + 1)
        finally:
            body.close()
    except NoOutboundIdentity:
        raise ValidationError(
            f"Access Denied: lambdad has no S3 identity for account {where.account} to read "
            "TemplateURL"
        ) from None
    except Exception as exc:
        err = getattr(exc, "response", {}).get("Error", {})
        raise ValidationError(
            f"TemplateURL could not be read: {err.get('Code') or type(exc).__name__} "
            f"{err.get('Message') or ''}".strip()
        ) from None
    if len(data) > MAX_BYTES:
        raise ValidationError(f"Template at TemplateURL is larger than {MAX_BYTES} bytes")
    return data.decode("utf-8", "replace")
