"""The HTTP request a front door parsed off the wire, and the ways every event reads it.

``HttpRequest`` is what any front door (function URL, API Gateway, load balancer) hands
to the event builders: the method, the path and query string exactly as sent (still
percent-encoded), the headers in the order received with their duplicates, the body
bytes, and what the server knows about the connection (source IP, port, scheme,
protocol), plus the arrival time and the request id it assigned.

Also here, because every payload format needs them: the time format AWS writes into
events (``aws_time``), the query-string split (``query_pairs``), the forwarding headers
AWS's proxies add (``forwarded_headers``) and ``IamCaller``, the signer of a request
that passed ``AWS_IAM`` authorization.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import unquote, unquote_plus

from lambdad.model.headers import index_headers

# AWS writes English month names whatever the host's locale (strftime's %b is not).
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip

# Connection-level headers a proxy consumes; AWS's doors never forward them.
HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
     "upgrade"}
)  # fmt: skip
# Set by the door itself; a client's own values are replaced (X-Forwarded-For is extended).
_FORWARDING: Final = frozenset(
    {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as received. ``raw_path`` and ``raw_query`` are as sent, not decoded
    (``raw_query`` without the ``?``); ``headers`` keep the client's order, spelling and
    duplicates; ``domain`` is the host name the request was addressed to, without a
    port; ``time`` is its arrival, timezone-aware."""

    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    time: datetime
    request_id: str
    domain: str
    port: int = 80
    scheme: str = "http"
    protocol: str = "HTTP/1.1"

    # The values of each header by its lower-cased name, in the order received: an
    # event asks for a header several times (trace id, forwarding, user agent...).
    _by_name: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    # The trace a proxy adds to it (``trace_header``), made once when first asked for.
    _trace: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("HttpRequest.time must be timezone-aware")
        object.__setattr__(self, "_by_name", index_headers(self.headers))

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in the order received."""
        return list(self._by_name.get(name.lower(), ()))

    def first_header(self, name: str) -> str | None:
        values = self._by_name.get(name.lower())
        return values[0] if values else None

    @property
    def user_agent(self) -> str:
        return self.first_header("user-agent") or ""

    @property
    def content_type(self) -> str | None:
        return self.first_header("content-type")

    @property
    def time_epoch_ms(self) -> int:
        return int(self.time.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class IamCaller:
    """Who signed a request that ``AWS_IAM`` authorization let through."""

    access_key: str
    account_id: str
    caller_id: str
    user_arn: str
    user_id: str
    principal_org_id: str | None = None


def aws_time(moment: datetime) -> str:
    """``12/Mar/2020:19:03:58 +0000``: the request time as AWS writes it in events."""
    utc = moment.astimezone(UTC)
    return (
        f"{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year:04d}:"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} +0000"
    )


def query_pairs(raw_query: str, *, decode: bool) -> list[tuple[str, str]]:
    """The ``key=value`` pairs of a query string in order, empty segments skipped and a
    key without ``=`` given the value ``""``. ``decode``: percent-decode keys and values
    and read ``+`` as a space, as API Gateway does; ALB passes them still encoded."""
    pairs = []
    for segment in raw_query.split("&"):
        if not segment:
            continue
        key, _, value = segment.partition("=")
        if decode:
            key, value = unquote_plus(key), unquote_plus(value)
        pairs.append((key, value))
    return pairs


def decoded_path(raw_path: str) -> str:
    """The path percent-decoded (``+`` stays a plus sign: it is not a space in a path)."""
    return unquote(raw_path)


def trace_header(request: HttpRequest) -> str:
    """The ``X-Amzn-Trace-Id`` an AWS proxy adds: ``Root=1-<epoch hex>-<96 random bits>``,
    the random part derived from the request id so that one request has one trace
    (asked for by the event and by the invocation: made once per request)."""
    if not request._trace:
        digest = hashlib.sha256(request.request_id.encode()).hexdigest()[:24]
        epoch = int(request.time.timestamp())
        object.__setattr__(request, "_trace", f"Root=1-{epoch:08x}-{digest}")
    return request._trace


_COMPACT = json.JSONEncoder(separators=(",", ":"))


def event_json(event: object) -> bytes:
    """An event as an invocation's payload: compact JSON, ``json.dumps(event,
    separators=(",", ":"))`` without building an encoder per request."""
    return _COMPACT.encode(event).encode()


def request_trace(request: HttpRequest) -> str:
    """The trace the request is part of: the client's ``X-Amzn-Trace-Id``, else the one
    the proxy adds (what the event's headers and the invocation both carry)."""
    return request.first_header("x-amzn-trace-id") or trace_header(request)


def forwarded_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The request's headers as an AWS proxy forwards them: hop-by-hop headers dropped,
    then ``X-Forwarded-For`` (the client's list extended with the source IP),
    ``X-Forwarded-Port``, ``X-Forwarded-Proto`` and ``X-Amzn-Trace-Id`` (the client's
    own kept) appended."""
    kept: list[tuple[str, str]] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered not in HOP_BY_HOP and lowered not in _FORWARDING:
            kept.append((name, value))
    chain = request.header_values("x-forwarded-for")
    kept.append(("X-Forwarded-For", ", ".join([*chain, request.source_ip])))
    kept.append(("X-Forwarded-Port", str(request.port)))
    kept.append(("X-Forwarded-Proto", request.scheme))
    kept.append(("X-Amzn-Trace-Id", request_trace(request)))
    return kept


def last_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """One value per key: the last one received (what single-value fields carry)."""
    return {key: value for key, value in pairs}


def all_values(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Every value per key, in the order received (what multi-value fields carry)."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped
