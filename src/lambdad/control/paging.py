"""Paging of the List* operations: the page size cap and the opaque markers.

A marker is the last key of the page answered (or a position), base64url-encoded;
one that does not decode is refused as AWS refuses it.
"""

from __future__ import annotations

import base64
import binascii

from lambdad.errors import InvalidParameterValueException

LIST_PAGE_MAX = 50


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
