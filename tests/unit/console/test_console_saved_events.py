"""Saved test events: per function and per (account, region), bounded in number,
name and size; saving a name again replaces it."""

from __future__ import annotations

import asyncio

import pytest

from lambdad.console.saved_events import MAX_EVENTS, SavedEventError, SavedEvents
from lambdad.model.scope import Scope

HERE = Scope("123456789012", "us-east-1")


def test_events_are_kept_per_function_and_world() -> None:
    saved = SavedEvents()

    async def run() -> None:
        await saved.save(HERE, "f", "ping", '{"a": 1}', 1.0)
        await saved.save(HERE, "f", "ping", '{"a": 2}', 2.0)
        await saved.save(HERE, "f", "alpha", "{}", 3.0)
        assert await saved.named(HERE, "f") == [("alpha", "{}"), ("ping", '{"a": 2}')]
        assert await saved.named(HERE, "g") == []
        assert await saved.named(Scope("123456789012", "eu-west-1"), "f") == []
        assert await saved.named(Scope("210987654321", "us-east-1"), "f") == []
        await saved.delete(HERE, "f", "ping")
        assert await saved.named(HERE, "f") == [("alpha", "{}")]

    asyncio.run(run())


@pytest.mark.parametrize("name", ["", "has space", "x" * 26, "<script>"])
def test_names_are_checked(name: str) -> None:
    with pytest.raises(SavedEventError):
        asyncio.run(SavedEvents().save(HERE, "f", name, "{}", 0.0))


def test_size_and_number_are_bounded() -> None:
    saved = SavedEvents()

    async def run() -> None:
        with pytest.raises(SavedEventError):
            await saved.save(HERE, "f", "big", '"' + "x" * 300_000 + '"', 0.0)
        for i in range(MAX_EVENTS):
            await saved.save(HERE, "f", f"e{i}", "{}", 0.0)
        with pytest.raises(SavedEventError):
            await saved.save(HERE, "f", "one-more", "{}", 0.0)
        await saved.save(HERE, "f", "e0", '{"replaced": true}', 0.0)  # a replacement fits

    asyncio.run(run())
