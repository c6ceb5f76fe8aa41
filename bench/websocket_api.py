"""A WebSocket API message round trip beside an HTTP API request and a direct
``Invoke`` of the same function, same run.

One ``lambdad serve`` (``process`` sandbox), one Python function answering a small
proxy response, warmed; a WebSocket API with a two-way ``$default`` route (a route
response, so the function's answer comes back as a message) and an HTTP API by quick
create on it, each permitted. Then three connections: a WebSocket client (``websockets``)
sending a message and reading the answer, a keep-alive HTTP connection POSTing to the
HTTP API's path form, one replaying a pre-signed ``Invoke``; timed in alternating
blocks. The difference of the medians is what a message costs beyond an invocation
(route selection, the MESSAGE event, framing both ways) and beside an HTTP request.

    python bench/websocket_api.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from http_api import BODY, HANDLER, _client, door_request, permit_apis


def _apis(server: c.Server, arn: str) -> tuple[str, str]:
    """(WebSocket API id, HTTP API id) on the function, both permitted."""
    v2 = _client(server, "apigatewayv2")
    ws_id = v2.create_api(
        Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    integration = v2.create_integration(
        ApiId=ws_id, IntegrationType="AWS_PROXY", IntegrationUri=arn
    )["IntegrationId"]
    route = v2.create_route(ApiId=ws_id, RouteKey="$default", Target=f"integrations/{integration}",
                            RouteResponseSelectionExpression="$default")  # fmt: skip
    v2.create_route_response(ApiId=ws_id, RouteId=route["RouteId"], RouteResponseKey="$default")
    v2.create_stage(ApiId=ws_id, StageName="b", AutoDeploy=True)
    http_id = v2.create_api(Name="http", ProtocolType="HTTP", Target=arn)["ApiId"]
    permit_apis(server, "ws", ws_id, http_id)
    return ws_id, http_id


def measure(server: c.Server, n: int) -> dict[str, dict[str, float]]:
    from websockets.sync.client import connect

    server.create("ws", source=HANDLER, MemorySize=1769)
    arn = server.client.get_function(FunctionName="ws")["Configuration"]["FunctionArn"]
    ws_id, http_id = _apis(server, arn)
    requests = {
        "direct Invoke": c.signed_invoke(server.endpoint, "ws", BODY),
        "HTTP API": door_request(server.port, f"/execute-api/{http_id}/x"),
    }
    connections = {label: c.Connection(server.port) for label in requests}
    with connect(f"ws://127.0.0.1:{server.port}/execute-api/{ws_id}/b") as ws:

        def messages(count: int) -> list[float]:
            out = []
            for _ in range(count):
                t = time.perf_counter()
                ws.send(BODY.decode())
                answer = ws.recv(timeout=30)
                out.append((time.perf_counter() - t) * 1000)
                if answer != "ok":
                    raise RuntimeError(f"answered {answer!r}")
            return out

        try:
            timers = {"WebSocket message": messages, **c.timers(connections, requests)}
            return c.interleaved(timers, n)
        finally:
            for connection in connections.values():
                connection.close()


def main() -> int:
    args = c.parse_args(200, 1000)
    server = c.Server({"LAMBDAD_SANDBOX": "process"}).start()
    try:
        rows = measure(server, args.n)
    finally:
        server.stop()
    c.print_rows(f"WebSocket API message vs HTTP API vs direct Invoke, {args.n} each", rows)
    added = {
        door: rows[door]["median"] - rows["direct Invoke"]["median"]
        for door in ("WebSocket message", "HTTP API")
    }
    for door, ms in added.items():
        print(f"  added by the {door}: {ms:.3f} ms median")
    c.write_rows("websocket_api", args, rows, added_ms=added)
    return 0


if __name__ == "__main__":
    sys.exit(main())
