"""API Gateway and load balancer requests beside a direct ``Invoke`` of the same
function, same run.

One ``lambdad serve`` (``process`` sandbox), one Python function answering a small
fixed proxy response, warmed; an HTTP API made by quick create (``$default`` route,
payload 2.0), a REST API (``{proxy+}``, ``ANY``, ``AWS_PROXY``, stage ``b``) and an
application load balancer (a listener forwarding to a ``lambda`` target group) on it,
each with the permission AWS requires. Then four keep-alive connections: one
replays a pre-signed ``Invoke``, the others the same body POSTed to
``/execute-api/<api-id>/…`` (the path form: no wildcard DNS needed) or to the API
port with the balancer's ``DNSName`` as ``Host``. Round trips are
timed in alternating blocks, so that drift on the host weighs on all alike; the
difference of the medians is what each door adds (its API and policy look-ups, route
matching, the event, the response rules) over the API's SigV4 check and ``Invoke``
handler.

    python bench/http_api.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
BODY = b'{"k":"v"}'


def door_request(port: int, path: str, host: str | None = None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


def _client(server: c.Server, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=c.REGION,
        aws_access_key_id=c.AKID,
        aws_secret_access_key=c.SECRET,
    )


def _apis(server: c.Server, arn: str) -> tuple[str, str]:
    """(HTTP API id, REST API id), both on the function, both permitted."""
    http_id = _client(server, "apigatewayv2").create_api(
        Name="bench", ProtocolType="HTTP", Target=arn
    )["ApiId"]
    rest = _client(server, "apigateway")
    rest_id = rest.create_rest_api(name="bench")["id"]
    root = rest.get_resources(restApiId=rest_id)["items"][0]["id"]
    proxy = rest.create_resource(restApiId=rest_id, parentId=root, pathPart="{proxy+}")["id"]
    ids = {"restApiId": rest_id, "resourceId": proxy, "httpMethod": "ANY"}
    rest.put_method(**ids, authorizationType="NONE")
    uri = f"arn:aws:apigateway:{c.REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
    rest.put_integration(**ids, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    rest.create_deployment(restApiId=rest_id, stageName="b")
    permit_apis(server, "apigw", http_id, rest_id)
    return http_id, rest_id


def permit_apis(server: c.Server, function: str, *api_ids: str) -> None:
    """Let API Gateway invoke ``function`` for each of ``api_ids``."""
    for api_id in api_ids:
        server.client.add_permission(
            FunctionName=function,
            StatementId=f"apigw-{api_id}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{c.REGION}:{c.ACCOUNT}:{api_id}/*",
        )


def _balancer(server: c.Server, arn: str) -> str:
    """A balancer forwarding to the function; its DNSName."""
    elb = _client(server, "elbv2")
    balancer = elb.create_load_balancer(Name="bench")["LoadBalancers"][0]
    group = elb.create_target_group(Name="bench", TargetType="lambda")["TargetGroups"][0]
    server.client.add_permission(
        FunctionName="apigw",
        StatementId="elb",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=group["TargetGroupArn"],
    )
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": arn}])
    elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=c.free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    return str(balancer["DNSName"])


def measure(server: c.Server, n: int) -> dict[str, dict[str, float]]:
    server.create("apigw", source=HANDLER, MemorySize=1769)
    arn = server.client.get_function(FunctionName="apigw")["Configuration"]["FunctionArn"]
    http_id, rest_id = _apis(server, arn)
    dns_name = _balancer(server, arn)
    requests = {
        "direct Invoke": c.signed_invoke(server.endpoint, "apigw", BODY),
        "HTTP API": door_request(server.port, f"/execute-api/{http_id}/x"),
        "REST API": door_request(server.port, f"/execute-api/{rest_id}/b/x"),
        "ALB": door_request(server.port, "/x", f"{dns_name}:{server.port}"),
    }
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
    c.print_rows(f"API Gateway and ALB vs direct Invoke, {n} each, keep-alive", rows)
    added = {
        door: rows[door]["median"] - rows["direct Invoke"]["median"]
        for door in ("HTTP API", "REST API", "ALB")
    }
    for door, ms in added.items():
        print(f"  added by the {door} door: {ms:.3f} ms median")
    c.write_rows("http_api", args, rows, added_ms=added)
    return 0


if __name__ == "__main__":
    sys.exit(main())
