"""Where a shard's reading starts."""

from __future__ import annotations

from lambdad.events.streams.positions import IteratorRequest, start_of


def start(checkpoint: str | None = None, **kw: object) -> IteratorRequest:
    args: dict[str, object] = {
        "position": "LATEST",
        "position_timestamp": None,
        "started_at": 500.0,
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


def test_latest_without_timestamps_passes_over_older_records() -> None:
    request = start(timestamps=False)
    assert request == IteratorRequest("TRIM_HORIZON", not_before=500.0)
    assert request.passes_over(499.0)
    assert not request.passes_over(500.0)
    assert not request.passes_over(500.7)  # whole seconds: that second is kept
    assert not IteratorRequest("TRIM_HORIZON").passes_over(0.0)


def test_trim_horizon_and_at_timestamp() -> None:
    assert start(position="TRIM_HORIZON") == IteratorRequest("TRIM_HORIZON")
    assert start(position="AT_TIMESTAMP", position_timestamp=77.5) == IteratorRequest(
        "AT_TIMESTAMP", timestamp=77.5
    )
