"""Where a shard's reading starts."""

from __future__ import annotations

import pytest

from lambdad.events.streams.positions import IteratorRequest, start_of


def start(checkpoint: str | None = None, **kw: object) -> IteratorRequest:
    args: dict[str, object] = {
        "position": "LATEST",
        "position_timestamp": None,
        "started_at": 500.0,
        "child": False,
        "timestamps": True,
    }
    args.update(kw)
    return start_of(checkpoint, **args)  # type: ignore[arg-type]


def test_a_checkpoint_wins() -> None:
    assert start("42", position="TRIM_HORIZON") == IteratorRequest(
        "AFTER_SEQUENCE_NUMBER", sequence_number="42"
    )


def test_latest_is_the_moment_the_mapping_started_where_the_source_has_timestamps() -> None:
    # So a restart with no checkpoint yet skips nothing written while it was down.
    assert start() == IteratorRequest("AT_TIMESTAMP", timestamp=500.0)
    assert start(child=True) == IteratorRequest("AT_TIMESTAMP", timestamp=500.0)


def test_latest_without_timestamps() -> None:
    assert start(timestamps=False) == IteratorRequest("LATEST")
    assert start(timestamps=False, child=True) == IteratorRequest("TRIM_HORIZON")


@pytest.mark.parametrize("child", [False, True])
def test_trim_horizon_and_at_timestamp(child: bool) -> None:
    assert start(position="TRIM_HORIZON", child=child) == IteratorRequest("TRIM_HORIZON")
    assert start(position="AT_TIMESTAMP", position_timestamp=77.5, child=child) == IteratorRequest(
        "AT_TIMESTAMP", timestamp=77.5
    )
