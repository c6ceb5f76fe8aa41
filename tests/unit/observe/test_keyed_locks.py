"""Locks by key: one key's holders take turns, other keys go ahead, several keys are
taken in one order, and a lock no one wants is dropped."""

from __future__ import annotations

import asyncio

from lambdad.observe.keyed_locks import KeyedLocks


def test_one_key_waits_another_goes_ahead() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(key: str, name: str, gate: asyncio.Event | None = None) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            if gate is not None:
                await gate.wait()
            order.append(f"{name} out")

    async def go() -> None:
        gate = asyncio.Event()
        first = asyncio.ensure_future(hold("a", "a1", gate))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(hold("a", "a2"))
        await hold("b", "b1")  # not behind a1
        await asyncio.sleep(0)
        assert order == ["a1 in", "b1 in", "b1 out"]
        gate.set()
        await asyncio.gather(first, second)
        assert len(locks) == 0

    asyncio.run(go())
    assert order[3:] == ["a1 out", "a2 in", "a2 out"]


def test_several_keys_in_any_order_never_deadlock() -> None:
    locks = KeyedLocks()

    async def hold(*keys: str) -> None:
        async with locks.hold(*keys):
            await asyncio.sleep(0)

    async def go() -> None:
        await asyncio.wait_for(
            asyncio.gather(*(hold("x", "y") if i % 2 else hold("y", "x", "x") for i in range(20))),
            timeout=5,
        )

    asyncio.run(go())
    assert len(locks) == 0
