"""Recursive loop detection: how many times one chain of events has invoked a function.

Lambda counts, in the ``Lineage`` field of the X-Ray trace header an invocation
carries, the turns of a chain per function (``Lineage=<8-hex hash>:<count>``, several
joined by ``|``). A function's AWS SDK passes its ``_X_AMZN_TRACE_ID`` on as the
``X-Amzn-Trace-Id`` header of its calls, and SQS keeps it as the message's
``AWSTraceHeader``; the next invocation that message causes counts one turn more.
After ``MAX_TURNS`` turns, a function whose ``RecursiveLoop`` is ``Terminate`` is not
invoked again for that event (pure functions).
"""

from __future__ import annotations

import random
import time
import zlib
from typing import Final

MAX_TURNS: Final = 16
_ids = random.Random()


def function_hash(function_arn: str) -> str:
    """The lineage key of a function: its unqualified ARN, hashed to 8 hex digits."""
    unqualified = ":".join(function_arn.split(":")[:7])
    return f"{zlib.crc32(unqualified.encode()):08x}"


def _fields(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key] = value
    return out


def lineage(header: str | None) -> dict[str, int]:
    """Function hash -> turns, from a trace header (entries that do not parse are skipped;
    a leading version, ``N:hash:count``, is tolerated)."""
    out: dict[str, int] = {}
    for entry in _fields(header).get("Lineage", "").split("|"):
        parts = entry.split(":")
        if len(parts) >= 2 and parts[-1].isdigit():
            out[parts[-2]] = int(parts[-1])
    return out


def turns(header: str | None, function_arn: str) -> int:
    return lineage(header).get(function_hash(function_arn), 0)


def next_header(header: str | None, function_arn: str) -> str:
    """The trace header of the invocation ``header``'s event causes: the same root, a
    new parent, and one more turn for the function."""
    fields = _fields(header)
    counts = lineage(header)
    key = function_hash(function_arn)
    counts[key] = counts.get(key, 0) + 1
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{_ids.getrandbits(96):024x}"
    entries = "|".join(f"{k}:{v}" for k, v in counts.items())
    return f"Root={root};Parent={_ids.getrandbits(64):016x};Sampled=0;Lineage={entries}"
