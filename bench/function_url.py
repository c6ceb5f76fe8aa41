"""A function URL request beside a direct ``Invoke`` of the same function, same run.

One ``lambdad serve`` (``process`` sandbox), one Python function answering a small
fixed HTTP response, warmed; a function URL on it with ``AuthType NONE`` and the
permission AWS requires. Then two keep-alive connections: one replays a pre-signed
``Invoke``, the other the same body POSTed to ``/lambda-url/<url-id>/`` (the path
form: no wildcard DNS needed). Their round trips are timed in alternating blocks, so
that drift on the host weighs on both alike; the difference of the medians is what
the URL door adds (its config and policy look-ups, the payload 2.0 event, the
response rules) over the API's SigV4 check and ``Invoke`` handler.

    python bench/function_url.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
BODY = b'{"k":"v"}'


def url_request(port: int, url_id: str) -> bytes:
    head = (
        f"POST /lambda-url/{url_id}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


def public_url(server: c.Server, function: str) -> str:
    """A function URL (AuthType NONE) on ``function`` with both permissions AWS asks
    for; its url-id."""
    config = server.client.create_function_url_config(FunctionName=function, AuthType="NONE")
    server.client.add_permission(
        FunctionName=function,
        StatementId="public",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    server.client.add_permission(
        FunctionName=function,
        StatementId="public-invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return config["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]


def measure(server: c.Server, n: int) -> dict[str, dict[str, float]]:
    server.create("url", source=HANDLER, MemorySize=1769)
    url_id = public_url(server, "url")
    invoke = c.signed_invoke(server.endpoint, "url", BODY)
    via_url = url_request(server.port, url_id)
    requests = {"direct Invoke": invoke, "function URL": via_url}
    connections = {label: c.Connection(server.port) for label in requests}
    try:
        return c.interleaved(c.timers(connections, requests), n)
    finally:
        for connection in connections.values():
            connection.close()


def main() -> int:
    args = c.parse_args(200, 1000)
    n = args.n

    server = c.Server({"LAMBDAD_SANDBOX": "process"}).start()
    try:
        rows = measure(server, n)
    finally:
        server.stop()
    c.print_rows(f"function URL vs direct Invoke, {n} each, keep-alive, alternating", rows)
    added = rows["function URL"]["median"] - rows["direct Invoke"]["median"]
    print(f"  added by the URL door: {added:.3f} ms median")
    c.write_rows("function_url", args, rows, added_ms=added)
    return 0


if __name__ == "__main__":
    sys.exit(main())
