"""A load balancer's ``redirect`` action (pure): its ``RedirectConfig`` checked and
completed when a listener or rule is stored, and the ``Location`` it answers.

A URI is ``protocol://host:port/path?query``; a component the config leaves out keeps
the request's value, and a component may reuse the request's through ``#{protocol}``,
``#{host}``, ``#{port}``, ``#{path}`` (without its leading ``/``) and ``#{query}``, as
ELB's API reference describes. Stored configs carry every component (the omitted ones
as their keywords), as ``DescribeListeners`` and ``DescribeRules`` show them.

Listeners here are HTTP, so ``#{protocol}`` is ``HTTP`` and a redirect to ``HTTPS``
points at a listener lambdad does not serve. The messages of refused configs are
lambdad's wording (no answer of ELB's is on record for them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from lambdad.events.alb.errors import invalid

KEEP: Final = {
    "Protocol": "#{protocol}",
    "Host": "#{host}",
    "Port": "#{port}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
STATUS: Final = {"HTTP_301": 301, "HTTP_302": 302}
MAX_COMPONENT: Final = 128
_KEYWORD: Final = re.compile(r"#\{[a-z]*\}")
# The keywords each component may hold (botocore's RedirectActionConfig): the host is
# never made of what the request's path or query says.
ALLOWED: Final = {
    "Host": {"#{host}"},
    "Path": {"#{host}", "#{path}", "#{port}"},
    "Query": {"#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"},
}
# What a Host header may not hold to be a redirect's host (it would end the authority).
_NOT_A_HOST: Final = re.compile(r"[^A-Za-z0-9.\-\[\]:_]")


def completed(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config with every component, or ``ValidationError`` for one ELB refuses."""
    if not config or config.get("StatusCode") not in STATUS:
        raise invalid("A redirect action needs a StatusCode of HTTP_301 or HTTP_302")
    out = {**KEEP, **{k: v for k, v in config.items() if v is not None}}
    for key in ("Protocol", "Host", "Port", "Path", "Query"):
        if not isinstance(out[key], str):
            raise invalid(f"The redirect {key} must be a string")
    if out["Protocol"] not in ("HTTP", "HTTPS", KEEP["Protocol"]):
        raise invalid("The redirect Protocol must be HTTP, HTTPS or #{protocol}")
    port = out["Port"]
    if port != KEEP["Port"] and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise invalid("The redirect Port must be from 1 to 65535 or #{port}")
    for key in ("Host", "Path"):
        if not 1 <= len(out[key]) <= MAX_COMPONENT:
            raise invalid(f"The redirect {key} must be 1 to {MAX_COMPONENT} characters long")
    if not out["Path"].startswith("/"):
        raise invalid("The redirect Path must start with '/'")
    if len(out["Query"]) > MAX_COMPONENT:
        raise invalid(f"The redirect Query must be at most {MAX_COMPONENT} characters long")
    for key, allowed in ALLOWED.items():
        stray = set(_KEYWORD.findall(out[key])) - allowed
        if stray:
            raise invalid(f"The redirect {key} cannot contain {', '.join(sorted(stray))}")
    if all(out[k] == KEEP[k] for k in ("Protocol", "Host", "Port", "Path")):
        raise invalid(
            "A redirect action must change at least one of protocol, host, port or path "
            "(it would otherwise redirect to itself)"
        )
    return out


def location(
    config: Mapping[str, Any], *, host: str, port: int, path: str, query: str
) -> str | None:
    """Where a request for ``http://host:port/path?query`` is sent (None: its host is
    not a host name, and nothing is built from it)."""
    if not host or _NOT_A_HOST.search(host) is not None:
        return None
    words = {
        "#{protocol}": "HTTP",
        "#{host}": host,
        "#{port}": str(port),
        "#{path}": path.removeprefix("/"),
        "#{query}": query,
    }

    def filled(value: str) -> str:
        # One pass: a keyword inside a request's own value is not replaced again.
        return _KEYWORD.sub(lambda m: words.get(m.group(0), m.group(0)), value)

    protocol = filled(config["Protocol"]).lower()
    target = f"{protocol}://{filled(config['Host'])}:{filled(config['Port'])}"
    target += filled(config["Path"])
    rest = filled(config["Query"])
    return f"{target}?{rest}" if rest else target


def status_of(config: Mapping[str, Any]) -> int:
    return STATUS[config["StatusCode"]]
