"""WebSocket API unit fixtures: API Gateway's in-memory control operations (shared
with ``unit.events.apigw``)."""

from __future__ import annotations

from unit.events.apigw.conftest import gateway, v2

__all__ = ["gateway", "v2"]
