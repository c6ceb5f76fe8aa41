"""Which request bodies reach a function as text and which as base64.

Every door sends the body as a JSON string; bytes that are not text travel base64
encoded with ``isBase64Encoded: true``. Who decides what is text differs:

- **HTTP APIs and function URLs** (both payload formats): text only for ``text/*``,
  ``application/json``, ``application/xml`` and ``application/javascript``; anything
  else, a missing ``Content-Type`` and ``application/x-www-form-urlencoded`` included,
  is base64 (measured against AWS; the guides only say "binary").
- **ALB**: the same four, except that any ``Content-Encoding`` makes the body base64
  (the ELB guide).
- **REST APIs**: base64 only when ``Content-Type`` matches one of the API's
  ``binaryMediaTypes`` (exact, ``type/*`` or ``*/*``); otherwise text.

Bytes a rule calls text but that are not valid UTF-8 go base64 as well: a JSON string
cannot carry them and a function can still read them back.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Final

TEXT_MEDIA_TYPES: Final = frozenset(
    {"application/json", "application/xml", "application/javascript"}
)


def media_type(content_type: str | None) -> str:
    """``Application/JSON; charset=utf-8`` → ``application/json`` (``""`` when absent)."""
    if content_type is None:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_text(content_type: str | None) -> bool:
    """The four kinds of body HTTP APIs, function URLs and ALB pass as text."""
    kind = media_type(content_type)
    return kind.startswith("text/") or kind in TEXT_MEDIA_TYPES


def matches_media_types(content_type: str | None, patterns: Iterable[str]) -> bool:
    """Whether ``content_type`` is one of ``patterns`` (``image/png``, ``image/*``,
    ``*/*``), as REST APIs match ``binaryMediaTypes``."""
    kind = media_type(content_type)
    if not kind:
        return False
    major = kind.split("/", 1)[0]
    for pattern in patterns:
        wanted = pattern.strip().lower()
        if wanted in ("*/*", kind) or wanted == f"{major}/*":
            return True
    return False


def event_body(body: bytes, *, as_text: bool) -> tuple[str, bool]:
    """``(body, isBase64Encoded)`` for an event: the text itself when ``as_text`` and the
    bytes are UTF-8, else their base64."""
    if as_text:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True
