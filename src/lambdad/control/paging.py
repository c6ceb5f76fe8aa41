"""Paging of the List* operations: the page size cap and the opaque markers.

A marker is the last key of the page answered (or a position), base64url-encoded;
one that does not decode is refused as AWS refuses it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from lambdad.errors import InvalidParameterValueException

LIST_PAGE_MAX = 50

T = TypeVar("T")


def encode_marker(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        # Strict: a lenient decode drops stray characters and can turn garbage into "".
        return base64.b64decode(marker, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameterValueException("Invalid marker.") from None


def page(
    rows: list[tuple[str, T]], marker: str | None, max_items: int | None
) -> tuple[list[T], str | None]:
    """One page of ``rows`` (sorted by their key) after ``marker``, and the marker of
    the next page (None: this is the last)."""
    after = decode_marker(marker)
    rest = [(key, item) for key, item in rows if after is None or key > after]
    limit = min(max_items or LIST_PAGE_MAX, LIST_PAGE_MAX)
    chosen = rest[:limit]
    next_marker = encode_marker(chosen[-1][0]) if len(rest) > limit else None
    return [item for _, item in chosen], next_marker
