"""How one claim of the async queue shares its free places among functions.

AWS keeps a queue per function, so one function's backlog never delays another's
events. lambdad keeps one table and one dispatcher with ``async_max_concurrency``
places; ``shares`` is the pure rule that makes that table behave as queues per
function: each free place goes to the function with the fewest events running
(counting those this claim already gave it), the one whose oldest due event is
oldest among equals. A function with a backlog of thousands of due events, or with
its retries all coming due at once, still leaves the next free place to a function
with nothing running. Within a function, events are taken oldest first (the caller
takes the first ``n`` of each function's own queue).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from lambdad.store.queue import FunctionKey

# A function as a queue names it: its key, or the key's text (``queue.fkey``).
K = TypeVar("K", FunctionKey, str)


@dataclass(frozen=True, slots=True)
class Head:
    """A function's due, unclaimed events: how many, and when the oldest came due."""

    due: int
    oldest: float


def shares(
    heads: Mapping[K, Head],
    limit: int,
    *,
    remaining: Mapping[K, int],
    default_remaining: int,
    running: Mapping[K, int],
) -> dict[K, int]:
    """How many events of each function to claim: ``limit`` in all at most, at most
    ``remaining[key]`` (else ``default_remaining``) of a function and never more than it
    has due; places go one at a time to the least busy function."""
    cap = {k: min(h.due, remaining.get(k, default_remaining)) for k, h in heads.items()}
    # (running + taken so far, oldest due, key): the key only breaks exact ties.
    heap = [(running.get(k, 0), heads[k].oldest, k) for k, n in cap.items() if n > 0]
    heapq.heapify(heap)
    taken: dict[K, int] = {}
    left = limit
    while heap and left > 0:
        load, oldest, key = heapq.heappop(heap)
        taken[key] = taken.get(key, 0) + 1
        left -= 1
        if taken[key] < cap[key]:
            heapq.heappush(heap, (load + 1, oldest, key))
    return taken
