"""API Gateway's unit fixtures: the store's children in a dict (no file system), a
fixed clock, and the control operations of both APIs over them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.events.apigw.service import ApiGateway
from lambdad.model.scope import Scope

SCOPE = Scope("111111111111", "us-east-1")
PORT = 9550
Doc = dict[str, Any]


class ChildStore:
    """The generic children of the metadata store, in a dict (what ``ApiStore`` uses)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str, str], Doc] = {}

    def get_child(self, kind: str, account: str, region: str, name: str, key: str) -> Doc | None:
        return self.rows.get((kind, account, region, name, key))

    def put_child(
        self, kind: str, account: str, region: str, name: str, key: str, doc: Doc
    ) -> None:
        self.rows[(kind, account, region, name, key)] = doc

    def delete_child(self, kind: str, account: str, region: str, name: str, key: str) -> None:
        self.rows.pop((kind, account, region, name, key), None)

    def list_children(
        self, kind: str, account: str, region: str, name: str
    ) -> list[tuple[str, Doc]]:
        return [(k[4], d) for k, d in self.rows.items() if k[:4] == (kind, account, region, name)]

    def find_children(
        self, kind: str, field: str, value: str
    ) -> list[tuple[str, str, str, str, Doc]]:
        return [
            (k[1], k[2], k[3], k[4], d)
            for k, d in self.rows.items()
            if k[0] == kind and d.get(field) == value
        ]


Call = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def gateway() -> ApiGateway:
    return ApiGateway(ChildStore(), FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)), PORT)  # type: ignore[arg-type]


@pytest.fixture
def v2(gateway: ApiGateway) -> Call:
    """``v2("CreateApi", {...})``: an ``apigatewayv2`` operation as the signer's scope."""
    operations = gateway.http_operations()
    return lambda name, params: operations[name](SCOPE, params)


@pytest.fixture
def v1(gateway: ApiGateway) -> Call:
    """``v1("CreateRestApi", {...})``: an ``apigateway`` operation."""
    operations = gateway.rest_operations()
    return lambda name, params: operations[name](SCOPE, params)
