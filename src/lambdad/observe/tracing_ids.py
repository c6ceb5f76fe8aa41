"""X-Ray trace ids and headers, and the sampling decision of an invocation (pure).

A trace header is ``Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``
with optional further fields (``Lineage`` for Lambda's recursion count, ``Self`` added by
load balancers). ``decide`` says what header an invocation carries into its runtime:

- the caller's root (and lineage) are kept when the caller sent a valid one; otherwise a
  new root is made;
- the caller's sampling decision (``Sampled=1``/``0``) is honoured in both modes; without
  one (none, or ``?``), ``PassThrough`` does not sample and ``Active`` asks the sampler;
- the ``Parent`` is the caller's, unless lambdad records segments for the invocation: then
  it is the function segment's id, so that what the function sends hangs under it.

The sampler follows X-Ray's default rule: a reservoir of one trace per second, then 5 % of
the rest. Randomness and the clock are passed in.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

ACTIVE: Final = "Active"
PASS_THROUGH: Final = "PassThrough"

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_PARENT = re.compile(r"[0-9a-f]{16}")
# How long a header may be before it is not looked at (AWS caps it far lower).
MAX_HEADER = 1024

_ids = random.Random()  # ids must be unique, not secret: seeded once from the OS


class TraceHeader(NamedTuple):  # immutable, and built on every invoke: a tuple is cheapest
    root: str
    parent: str | None = None
    sampled: bool | None = None  # None: no decision yet ("?" or absent)
    extra: tuple[tuple[str, str], ...] = ()  # Lineage, Self, ... in the order received

    def render(self) -> str:
        out = f"Root={self.root};Parent={self.parent}" if self.parent else f"Root={self.root}"
        if self.sampled is not None:
            out += ";Sampled=1" if self.sampled else ";Sampled=0"
        for key, value in self.extra:
            out += f";{key}={value}"
        return out


def parse(header: str | None) -> TraceHeader | None:
    """The header's fields; None when it has no valid root (then it is not used)."""
    if not header or len(header) > MAX_HEADER:
        return None
    root = parent = None
    sampled: bool | None = None
    extra: list[tuple[str, str]] = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "Root":
            root = value
        elif key == "Parent":
            parent = value if _PARENT.fullmatch(value) else None
        elif key == "Sampled":
            sampled = {"1": True, "0": False}.get(value)
        elif key and ";" not in value:
            extra.append((key, value))
    if root is None or not _ROOT.fullmatch(root):
        return None
    return TraceHeader(root, parent, sampled, tuple(extra))


def default_random() -> random.Random:
    return _ids


def new_root(epoch: float, rand: random.Random = _ids) -> str:
    return f"1-{int(epoch):08x}-{rand.getrandbits(96):024x}"


def new_id(rand: random.Random = _ids) -> str:
    """A segment id (and a Parent): 16 hex digits."""
    return f"{rand.getrandbits(64):016x}"


@dataclass(slots=True)
class Sampler:
    """X-Ray's default rule: ``reservoir`` traces per second, then ``rate`` of the rest."""

    reservoir: int = 1
    rate: float = 0.05
    draw: Callable[[], float] = field(default=_ids.random)
    _second: int = -1
    _taken: int = 0

    def sample(self, epoch: float) -> bool:
        second = int(epoch)
        if second != self._second:
            self._second, self._taken = second, 0
        if self._taken < self.reservoir:
            self._taken += 1
            return True
        return self.draw() < self.rate


class Decision(NamedTuple):
    header: TraceHeader
    record: bool  # lambdad records segments (Active and sampled)
    caller_parent: str | None  # the caller's Parent, which the service segment hangs under
    segment_id: str  # the function segment's id when recording (the header's Parent then)


def decide(
    incoming: str | None,
    mode: str,
    sampler: Sampler,
    epoch: float,
    rand: random.Random = _ids,
) -> Decision:
    """The header an invocation carries, and whether lambdad records its segments."""
    got = parse(incoming) if incoming else None
    active = mode == ACTIVE
    if got is None:
        bits = f"{rand.getrandbits(160):040x}"  # the root's random part and an id, at once
        got = TraceHeader(f"1-{int(epoch):08x}-{bits[:24]}")
        segment_id = bits[24:]
    else:
        segment_id = new_id(rand)
    sampled = got.sampled
    if sampled is None:
        sampled = sampler.sample(epoch) if active else False
    record = active and sampled
    parent = segment_id if record else (got.parent or segment_id)
    header = TraceHeader(got.root, parent, sampled, got.extra)
    return Decision(header, record, got.parent, segment_id)
