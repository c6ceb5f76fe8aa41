"""API Gateway's rate of new WebSocket connections per account and Region."""

from __future__ import annotations

from lambdad.events.websocket.connect_rate import ConnectRate


def test_a_burst_up_to_the_rate_then_refills_with_time() -> None:
    rate = ConnectRate(per_second=3)
    assert [rate.take("a", 1000) for _ in range(4)] == [True, True, True, False]
    assert rate.take("b", 1000)  # each owner its own
    assert not rate.take("a", 1100)  # 0.3 of a connection back
    assert rate.take("a", 1400)
    assert not rate.take("a", 1400)
    assert [rate.take("a", 60_000) for _ in range(4)] == [True, True, True, False]
