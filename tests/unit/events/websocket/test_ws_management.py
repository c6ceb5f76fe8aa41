"""Which requests the ``@connections`` door takes: ``/<stage>/@connections/<id>`` of
an API, by host or by path, with ``@`` and the id escaped as botocore sends them."""

from __future__ import annotations

from typing import Any

from lambdad.events.websocket.management import ConnectionsRoute

HOST = "abcdefghij.execute-api.us-east-1.localhost:9550"


class Door:
    """Knows one WebSocket API, abcdefghij."""

    def find(self, api_id: str, region: str | None) -> object | None:
        return object() if api_id == "abcdefghij" else None


def _route() -> ConnectionsRoute:
    return ConnectionsRoute(Door(), lambda *args: None)  # type: ignore[arg-type]


def _claim(path: str, host: str | None = HOST) -> Any:
    claim = _route().claim("POST", path, host)
    return None if claim is None else (claim[0].api_id, claim[1], claim[2])


def test_the_host_and_path_forms() -> None:
    assert _claim("/prod/@connections/L0SM9cOFvHcCIhw=") == (
        "abcdefghij",
        "prod",
        "L0SM9cOFvHcCIhw=",
    )
    path = "/execute-api/abcdefghij/prod/%40connections/L0SM9cOF%2FHcCIhw%3D"
    assert _claim(path, "127.0.0.1:9550") == ("abcdefghij", "prod", "L0SM9cOF/HcCIhw=")


def test_other_paths_are_not_taken() -> None:
    assert _claim("/prod/@connections") is None
    assert _claim("/prod/@connections/a/b") is None
    assert _claim("/@connections/a") is None
    assert _claim("/prod/connections/a") is None
    assert _claim("/prod/@connections/a", "example.com") is None


def test_the_paths_of_other_apis_are_not_taken() -> None:
    # An HTTP or REST API (not a WebSocket API) may have a route of that shape.
    assert _claim("/prod/@connections/a", "klmnopqrst.execute-api.us-east-1.localhost") is None
    assert _claim("/execute-api/klmnopqrst/prod/@connections/a", "127.0.0.1:9550") is None
