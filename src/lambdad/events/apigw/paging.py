"""Paging of API Gateway's list operations, for both control APIs.

``apigatewayv2`` pages with ``MaxResults`` (a string in the query, as botocore's model
has it) and an opaque ``NextToken``; ``apigateway`` (REST APIs) with ``limit`` (an
integer: 25 by default, at most 500, as its reference says) and an opaque
``position``. A page is cut from the listing as the operation orders it; the token
names the listing it belongs to (``apis``, ``routes/<api id>``…), the key of the
page's last item and how many items came before the next page, with a check digest.
The next page starts after that item, or, when it was deleted meanwhile, after as
many items as were already returned. A token that does not decode, names another
listing or fails its check was not issued by lambdad: ``BadRequestException``.

AWS documents no bounds for ``MaxResults``: any whole number from 1 is taken, and
without it the whole listing comes back in one page. For ``limit``, AWS answers an
internal failure below 1: lambdad answers ``BadRequestException`` instead, and
serves at most 500 items a page above it. The messages are lambdad's wording.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lambdad.errors import BadRequestException

Item = dict[str, Any]
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 500
_MAX_TOKEN: Final = 2048  # a token lambdad issues is a small fraction of this
_CHECK_LENGTH: Final = 16


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    token: str | None  # None on the last page


def take(
    items: Sequence[Item],
    *,
    listing: str,
    key: str,
    size: int | None,
    token: str | None,
    token_name: str,
) -> Page:
    """The page of ``items`` (ordered, each unique by ``item[key]``) that ``token``
    points to (the first page when None), ``size`` items long (all when None)."""
    start = 0
    if token:
        after, offset = _read(token, listing, token_name)
        keys = [str(item[key]) for item in items]
        start = keys.index(after) + 1 if after in keys else min(offset, len(items))
    end = len(items) if size is None else min(len(items), start + size)
    page = list(items[start:end])
    if end >= len(items) or not page:
        return Page(page, None)
    return Page(page, _issue(listing, str(page[-1][key]), end))


def v2_page(items: Sequence[Item], params: Item, *, listing: str, key: str) -> Item:
    """An ``apigatewayv2`` list operation's output: ``Items`` and, but on the last
    page, ``NextToken``."""
    size = max_results(params.get("MaxResults"))
    return _output(items, params, listing, key, size, ("Items", "NextToken"))


def v1_page(items: Sequence[Item], params: Item, *, listing: str, key: str) -> Item:
    """An ``apigateway`` list operation's output: ``items`` and, but on the last page,
    ``position``."""
    size = limit(params.get("limit"))
    return _output(items, params, listing, key, size, ("items", "position"))


def _output(
    items: Sequence[Item],
    params: Item,
    listing: str,
    key: str,
    size: int | None,
    names: tuple[str, str],
) -> Item:
    """The page as an output: its items under ``names[0]``, the token (the same name
    as the request's) under ``names[1]`` but on the last page."""
    items_name, token_name = names
    page = take(
        items,
        listing=listing,
        key=key,
        size=size,
        token=params.get(token_name),
        token_name=token_name,
    )
    out: Item = {items_name: page.items}
    if page.token is not None:
        out[token_name] = page.token
    return out


def max_results(value: object) -> int | None:
    """``MaxResults`` as a number of items (None: no limit)."""
    if value is None:
        return None
    text = str(value)
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or not digits:
        raise BadRequestException(
            f"Invalid MaxResults: {text[:64]}. MaxResults must be a whole number of at least 1"
        )
    # More items than any listing holds (and no int() of thousands of digits).
    return int(digits) if len(digits) <= 9 else None


def limit(value: object) -> int:
    """``limit`` as a number of items: 25 when absent, 500 at most."""
    if value is None:
        return DEFAULT_LIMIT
    if not isinstance(value, int) or value < 1:
        raise BadRequestException(f"Invalid limit: {value}. The limit must be at least 1")
    return min(value, MAX_LIMIT)


def _check(listing: str, after: str, offset: int) -> str:
    digest = hashlib.sha256(f"{listing}\0{after}\0{offset}".encode()).hexdigest()
    return digest[:_CHECK_LENGTH]


def _issue(listing: str, after: str, offset: int) -> str:
    doc = [listing, after, offset, _check(listing, after, offset)]
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read(token: str, listing: str, token_name: str) -> tuple[str, int]:
    """The key of the item a token's page came after, and its offset."""
    invalid = BadRequestException(f"Invalid {token_name} specified")
    if len(token) > _MAX_TOKEN:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise invalid from None
    match doc:
        case [str(named), str(after), int(offset), str(check)] if (
            named == listing and offset >= 0 and check == _check(named, after, offset)
        ):
            return after, offset
    raise invalid
