"""API Gateway names: ids as AWS makes them, an API's ``ApiEndpoint``, the ARNs its
permissions name, and the two ways a request addresses an API.

An API is served at ``http://<api-id>.execute-api.<region>.localhost:<port>``
(``*.localhost`` resolves to loopback, RFC 6761) and, for clients that do not resolve
wildcard names, at ``http://<host>:<port>/execute-api/<api-id>/…`` on the same port.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lambdad.errors import NotFoundException
from lambdad.model.front_door import addressed

API_ID_LENGTH: Final = 10
_ALPHABET: Final = string.ascii_lowercase + string.digits
_HOST: Final = re.compile(r"([a-z0-9]{10})\.execute-api\.([a-z0-9-]+)\.localhost\.?(?::\d+)?")
PATH_PREFIX: Final = "/execute-api/"
# API Gateway's payload limit: 10 MB for a request (Lambda's 6 MB applies to the event).
MAX_REQUEST_BODY: Final = 10 * 1024 * 1024
SERVICE_PRINCIPAL: Final = "apigateway.amazonaws.com"
DEFAULT_STAGE: Final = "$default"


def new_id(length: int = API_ID_LENGTH) -> str:
    """An id of lower-case letters and digits (APIs 10, routes and integrations 7)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def unused_id(taken: Container[str], length: int) -> str:
    """A new id of ``length`` that none of ``taken`` has (a route's, an integration's...)."""
    while True:
        found = new_id(length)
        if found not in taken:
            return found


def part(parts: Mapping[str, dict[str, Any]], part_id: str, kind: str) -> dict[str, Any]:
    """``parts[part_id]``, or the NotFoundException API Gateway answers for a ``kind``
    (``Route``, ``Integration``, ``RouteResponse``...) it does not have."""
    found = parts.get(part_id)
    if found is None:
        raise NotFoundException(f"Invalid {kind} identifier specified {part_id}", ResourceType=kind)
    return found


def domain(api_id: str, region: str) -> str:
    return f"{api_id}.execute-api.{region}.localhost"


def api_endpoint(api_id: str, region: str, port: int) -> str:
    """``ApiEndpoint`` as ``GetApi`` answers it (no trailing slash, as AWS)."""
    return f"http://{domain(api_id, region)}:{port}"


def source_arn(region: str, account: str, api_id: str, stage: str, method: str, path: str) -> str:
    """The ``AWS:SourceArn`` API Gateway invokes a function with:
    ``arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`` (``path``: the route's
    or resource's path without its leading slash), or ``API/STAGE/$default`` for an
    HTTP API's ``$default`` route (``method`` empty)."""
    tail = f"{method}/{path.lstrip('/')}" if method else path
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{tail}"


def iso_time(epoch: float) -> str:
    """``2020-01-01T12:00:00Z``: an HTTP API's ``CreatedDate`` on the wire."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ApiAddress:
    """Which API a request is for. ``region`` is the one its host names (None for the
    path form); ``raw_path`` is the path after the API's root (stage included), as sent."""

    api_id: str
    region: str | None
    raw_path: str


def address(path: str, host: str | None) -> ApiAddress | None:
    """The API a request addresses by its ``Host`` (first) or its path, else None.
    ``path`` is the raw request target (a query string after ``?`` is ignored)."""
    found = addressed(path, host, _HOST, PATH_PREFIX, API_ID_LENGTH)
    return None if found is None else ApiAddress(*found)
