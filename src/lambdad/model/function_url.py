"""Function URLs as names: the url-id, the ``FunctionUrl`` lambdad hands out, the two
ways a request addresses one, and the time format of a URL config.

A URL is ``http://<url-id>.lambda-url.<region>.localhost:<port>/`` (``*.localhost``
resolves to loopback, RFC 6761), or, for clients that do not resolve wildcard names,
``http://<host>:<port>/lambda-url/<url-id>/…`` on the same port. The url-id is 32
lower-case letters and digits, as AWS's are. ``address`` reads either form off a
request; the API port and the admission gate both ask it before anything else.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lambdad.model.front_door import addressed

URL_ID_LENGTH: Final = 32
_ALPHABET: Final = string.ascii_lowercase + string.digits
_HOST: Final = re.compile(r"([a-z0-9]{32})\.lambda-url\.([a-z0-9-]+)\.localhost\.?(?::\d+)?")
PATH_PREFIX: Final = "/lambda-url/"
# The most body a request to a URL may carry: Lambda's 6 MB synchronous payload limit.
MAX_REQUEST_BODY: Final = 6 * 1024 * 1024

AUTH_NONE: Final = "NONE"
AUTH_IAM: Final = "AWS_IAM"
BUFFERED: Final = "BUFFERED"
RESPONSE_STREAM: Final = "RESPONSE_STREAM"
INVOKE_URL: Final = "lambda:InvokeFunctionUrl"
AUTH_TYPE_KEY: Final = "lambda:FunctionUrlAuthType"
# New URLs also need lambda:InvokeFunction, granted for calls through a URL
# (``add-permission --invoked-via-function-url``): AWS asks for both since October 2025.
INVOKE_FUNCTION: Final = "lambda:InvokeFunction"
VIA_URL_KEY: Final = "lambda:InvokedViaFunctionUrl"


def new_url_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(URL_ID_LENGTH))


def domain(url_id: str, region: str) -> str:
    return f"{url_id}.lambda-url.{region}.localhost"


def function_url(url_id: str, region: str, port: int) -> str:
    """``FunctionUrl`` as the control API answers it."""
    return f"http://{domain(url_id, region)}:{port}/"


def url_time(moment: datetime) -> str:
    """``2022-07-07T15:19:41.225854Z``: ``CreationTime``/``LastModifiedTime`` as AWS
    writes them (microseconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class UrlAddress:
    """Which URL a request is for. ``region`` is the one its host names (None for the
    path form); ``raw_path`` is the path after the URL's root, as sent."""

    url_id: str
    region: str | None
    raw_path: str


def address(path: str, host: str | None) -> UrlAddress | None:
    """The URL a request addresses by its ``Host`` (first) or its path, else None.
    ``path`` is the raw request target (a query string after ``?`` is ignored)."""
    found = addressed(path, host, _HOST, PATH_PREFIX, URL_ID_LENGTH)
    return None if found is None else UrlAddress(*found)


@dataclass(frozen=True, slots=True)
class Cors:
    """A URL's ``Cors`` settings (botocore's ``Cors`` shape, absent members empty)."""

    allow_credentials: bool = False
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Cors:
        return cls(
            allow_credentials=bool(doc.get("AllowCredentials")),
            allow_headers=tuple(doc.get("AllowHeaders") or ()),
            allow_methods=tuple(doc.get("AllowMethods") or ()),
            allow_origins=tuple(doc.get("AllowOrigins") or ()),
            expose_headers=tuple(doc.get("ExposeHeaders") or ()),
            max_age=doc.get("MaxAge"),
        )


@dataclass(frozen=True, slots=True)
class UrlConfig:
    """What the front door needs of one URL: whose function, which qualifier (None:
    ``$LATEST``), how callers authenticate, and its CORS settings."""

    url_id: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    auth_type: str
    invoke_mode: str = BUFFERED
    cors: Cors | None = None
