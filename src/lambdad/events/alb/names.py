"""Load balancer names: ARNs as ELB writes them, the ``DNSName``
``<name>-<id>.<region>.elb.localhost`` (``*.localhost`` is loopback, RFC 6761), and
the ``Host`` that addresses a balancer on the API port.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

SERVICE_PRINCIPAL: Final = "elasticloadbalancing.amazonaws.com"
_HOST: Final = re.compile(r"([a-z0-9-]+)-(\d{10})\.([a-z0-9-]+)\.elb\.localhost\.?(?::(\d+))?")
MULTI_VALUE: Final = "lambda.multi_value_headers.enabled"


def hex_id() -> str:
    return secrets.token_hex(8)


def dns_id() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(10))


def arn(region: str, account: str, resource: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account}:{resource}"


def dns_name(name: str, dns: str, region: str) -> str:
    return f"{name}-{dns}.{region}.elb.localhost".lower()


def host_address(host: str | None) -> tuple[str, str, int | None] | None:
    """(DNS id, region, port or None) of a ``Host`` naming a balancer, else None."""
    if host is None:
        return None
    matched = _HOST.fullmatch(host.lower())
    if matched is None:
        return None
    port = matched.group(4)
    return matched.group(2), matched.group(3), int(port) if port else None
