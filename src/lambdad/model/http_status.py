"""An HTTP status that carries a reason phrase of its own.

ALB sends a Lambda target's ``statusDescription`` as the status line's reason phrase
(``404 Gone Fishing``). The phrase rides on the status itself, an ``int`` that every
other reader takes as the plain code, so the transport's response tuple keeps its
shape; ``api/http_response.encode`` writes the phrase (only text that cannot end the
line early, else the standard phrase).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Final

# What a reason phrase may hold (RFC 9112: HTAB, SP, VCHAR, obs-text).
_PHRASE: Final = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class ReasonedStatus(int):
    reason: str

    def __new__(cls, status: int, reason: str) -> ReasonedStatus:
        made = super().__new__(cls, status)
        made.reason = reason
        return made


def with_reason(status: int, reason: str | None) -> int:
    """``status`` with ``reason`` when it is a usable phrase other than the standard one."""
    if not reason or not _PHRASE.fullmatch(reason) or reason == _standard(status):
        return status
    return ReasonedStatus(status, reason)


def status_line(status: int) -> bytes:
    """The status line of a status that is not a plain ``int``."""
    reason = getattr(status, "reason", None) or _standard(status) or "Unknown"
    return b"HTTP/1.1 %d %s\r\n" % (int(status), reason.encode("latin-1", "replace"))


def _standard(status: int) -> str | None:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return None
