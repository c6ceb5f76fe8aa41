"""WebSocket APIs served end to end, as a user runs them: a real server, a Python
function, the API, its routes, integration, route response and stage made with boto3's
``apigatewayv2``; a real WebSocket client (``websockets``) connects, sends
``{"action": "echo", ...}`` and gets the function's answer through
``apigatewaymanagementapi.post_to_connection`` (signed with the function's own role
credentials); ``$connect`` refuses a client, ``$disconnect`` runs on close.

Its own server: the execution role is declared with ``execute-api:ManageConnections``
(``lambdad roles allow``), which would change role checks for the shared server's tests.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from e2e.conftest import ServerFactory
from e2e.helpers import PRIMARY, ROLE, LambdadServer, client_env, handler_zip, run_lambdad

FUNCTION = """
import json, os
import boto3

def handler(event, context):
    print("WS-EVENT " + json.dumps(event))
    ctx = event["requestContext"]
    route = ctx["routeKey"]
    if route == "$connect":
        if (event.get("queryStringParameters") or {}).get("deny"):
            return {"statusCode": 403}
        return {"statusCode": 200}
    if route == "echo":
        api = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WS_ENDPOINT"])
        api.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(event).encode())
        return {"statusCode": 200, "body": "not sent: the route is one-way"}
    if route == "ping":
        return {"statusCode": 200, "body": "pong"}
    if route == "boom":
        raise RuntimeError("boom")
    return {"statusCode": 200}
"""


def _events(server: LambdadServer, name: str, event_type: str, want: int) -> list[dict[str, Any]]:
    logs = server.client("logs")
    found: list[dict[str, Any]] = []
    for _ in range(100):
        lines = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        found = [
            json.loads(e["message"].split("WS-EVENT ", 1)[1])
            for e in lines
            if "WS-EVENT " in e["message"]
        ]
        found = [e for e in found if e["requestContext"]["eventType"] == event_type]
        if len(found) >= want:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{want} {event_type} events not logged: {found}")


def _log_text(server: LambdadServer, name: str) -> str:
    events = server.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    return "\n".join(e["message"] for e in events["events"])


def _api(server: LambdadServer, function_arn: str) -> tuple[str, str]:
    """A WebSocket API on the function: $connect, $disconnect, echo (one-way), ping
    (two-way), boom; deployed to stage ``prod``. Its id and endpoint."""
    gw = server.client("apigatewayv2")
    with pytest.raises(gw.exceptions.BadRequestException):  # not one API Gateway knows
        gw.create_api(Name="chat", ProtocolType="WEBSOCKET",
                      RouteSelectionExpression="$request.body.action",
                      ApiKeySelectionExpression="$request.header.key")  # fmt: skip
    api = gw.create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    api_id = api["ApiId"]
    integration = gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn
    )["IntegrationId"]
    # An integration response is kept and answered; a proxy integration never applies it
    # (the messages below come back as the function wrote them).
    kept = gw.create_integration_response(
        ApiId=api_id, IntegrationId=integration, IntegrationResponseKey="/4\\d\\d/"
    )
    kept.pop("ResponseMetadata")
    listed = server.aws("apigatewayv2", "get-integration-responses", "--api-id", api_id,
                        "--integration-id", integration)  # fmt: skip
    assert listed["Items"] == [kept]
    assert kept["IntegrationResponseKey"] == "/4\\d\\d/"
    assert "IntegrationResponses" not in gw.get_integration(ApiId=api_id, IntegrationId=integration)
    for key in ("$connect", "$disconnect", "echo", "ping", "boom"):
        route = gw.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=f"integrations/{integration}",
            **({"RouteResponseSelectionExpression": "$default"} if key == "ping" else {}),
        )
        if key == "ping":
            gw.create_route_response(
                ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default"
            )
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    server.client().add_permission(
        FunctionName=function_arn,
        StatementId="websocket",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{server.region}:{PRIMARY.account_id}:{api_id}/*",
    )
    return api_id, api["ApiEndpoint"]


def _connect(endpoint: str, port: int, query: str = "", stage: str = "prod") -> ClientConnection:
    """A client of the API's ``ws://<api-id>.execute-api.<region>.localhost`` endpoint
    (a socket to loopback: this machine does not resolve ``*.localhost``)."""
    sock = socket.create_connection(("127.0.0.1", port))
    return connect(f"{endpoint}/{stage}{query}", sock=sock, open_timeout=20, close_timeout=5,
                   user_agent_header="e2e-client")  # fmt: skip


def test_a_websocket_api_served_as_aws_serves_it(lambdad_factory: ServerFactory) -> None:
    server = lambdad_factory()
    env = client_env(server)
    for action in ("lambda:*", "logs:*", "execute-api:ManageConnections"):
        done = run_lambdad(
            "roles", "allow", "--data-dir", str(server.data_dir), ROLE, "--action", action, env=env
        )
        assert done.returncode == 0, done.stderr
    lam = server.client()
    name = "ws-chat"
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": handler_zip(FUNCTION)}, Timeout=30,
    )["FunctionArn"]  # fmt: skip
    api_id, endpoint = _api(server, arn)
    assert endpoint == f"ws://{api_id}.execute-api.{server.region}.localhost:{server.port}"
    lam.update_function_configuration(
        FunctionName=name,
        Environment={"Variables": {"WS_ENDPOINT": f"{server.endpoint}/execute-api/{api_id}/prod"}},
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )

    # $connect answers 403: the client is refused, with API Gateway's answer.
    with pytest.raises(InvalidStatus) as refused:
        _connect(endpoint, server.port, "?deny=1")
    assert refused.value.response.status_code == 403

    with _connect(endpoint, server.port, "?room=blue&room=red") as ws:
        ws.send(json.dumps({"action": "echo", "data": "hello"}))
        echoed = json.loads(ws.recv(timeout=30))
        assert "requestContext" in echoed, _log_text(server, name)
        context = echoed["requestContext"]
        assert context["routeKey"] == "echo"
        assert context["eventType"] == "MESSAGE"
        assert context["apiId"] == api_id
        assert context["stage"] == "prod"
        assert context["domainName"] == f"{api_id}.execute-api.{server.region}.localhost"
        assert context["messageDirection"] == "IN"
        assert context["messageId"]
        assert context["requestId"] == context["extendedRequestId"]
        assert echoed["body"] == json.dumps({"action": "echo", "data": "hello"})
        assert echoed["isBase64Encoded"] is False
        connection_id = context["connectionId"]

        # A two-way route (a route response) sends the function's answer back.
        ws.send(json.dumps({"action": "ping"}))
        assert ws.recv(timeout=30) == "pong"
        # No route for the action and no $default: Forbidden; a failing function:
        # Internal server error (the connection stays open through both).
        ws.send(json.dumps({"action": "nowhere"}))
        forbidden = json.loads(ws.recv(timeout=30))
        assert forbidden["message"] == "Forbidden"
        assert forbidden["connectionId"] == connection_id
        ws.send(json.dumps({"action": "boom"}))
        assert json.loads(ws.recv(timeout=30))["message"] == "Internal server error"

        # The @connections API as any signed caller of the account uses it.
        manage = _management(server, api_id)
        info = manage.get_connection(ConnectionId=connection_id)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "e2e-client"}
        manage.post_to_connection(ConnectionId=connection_id, Data=b"from the outside")
        assert ws.recv(timeout=30) == "from the outside"

    # Two CONNECT events: the refused connection's and this one's (in either order).
    connects = _events(server, name, "CONNECT", 2)
    (connected,) = [c for c in connects if c["requestContext"]["connectionId"] == connection_id]
    assert connected["requestContext"]["routeKey"] == "$connect"
    assert connected["multiValueQueryStringParameters"] == {"room": ["blue", "red"]}
    assert connected["queryStringParameters"] == {"room": "red"}
    assert connected["headers"]["User-Agent"] == "e2e-client"
    assert "Sec-WebSocket-Key" in connected["headers"]
    (gone,) = _events(server, name, "DISCONNECT", 1)
    assert gone["requestContext"]["connectionId"] == connection_id
    assert gone["requestContext"]["disconnectStatusCode"] == 1000
    with pytest.raises(manage.exceptions.GoneException):
        manage.post_to_connection(ConnectionId=connection_id, Data=b"too late")

    # Bad input closes the one connection that sent it, with RFC 6455's codes: a binary
    # frame (API Gateway takes text only) 1003, a message over 128 KB 1009; the
    # @connections API closes another (1000); a fourth connection is served meanwhile.
    with _connect(endpoint, server.port) as bystander:
        for bad, code in ((b"binary", 1003), ("x" * (128 * 1024 + 1), 1009)):
            with _connect(endpoint, server.port) as ws:
                ws.send(bad)
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=30)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == code
        with _connect(endpoint, server.port) as ws:
            ws.send(json.dumps({"action": "echo"}))
            deleted = json.loads(ws.recv(timeout=30))["requestContext"]["connectionId"]
            manage.delete_connection(ConnectionId=deleted)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1000
        bystander.send(json.dumps({"action": "ping"}))
        assert bystander.recv(timeout=30) == "pong"
    assert len(_events(server, name, "DISCONNECT", 5)) == 5

    # Not an upgrade: API Gateway's 403; unsigned @connections calls: 403.
    plain = requests.get(f"{server.endpoint}/execute-api/{api_id}/prod", timeout=10)
    assert plain.status_code == 403
    unsigned = requests.post(
        f"{server.endpoint}/execute-api/{api_id}/prod/@connections/{connection_id}", timeout=10
    )
    assert unsigned.status_code == 403
    assert "Traceback" not in server.stderr()


def _management(server: LambdadServer, api_id: str) -> Any:
    import boto3
    from botocore.config import Config

    cred = server.credential
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=f"{server.endpoint}/execute-api/{api_id}/prod",
        region_name=server.region,
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )


STACK = """\
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/lambda-role
      Code:
        ZipFile: |
          def handler(event, context):
              return {"statusCode": 200, "body": "echo: " + event["body"]}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: stacked
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub
        - arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Arn}/invocations
        - {Arn: !GetAtt Fn.Arn}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${Integration}
  Response:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref Route
      RouteResponseKey: $default
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [Route, Response]
    Properties:
      ApiId: !Ref Api
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: live
      DeploymentId: !Ref Deployment
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*
Outputs:
  Endpoint: {Value: !GetAtt Api.ApiEndpoint}
"""


def test_a_websocket_api_from_a_cloudformation_stack(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    cfn = lambdad.client("cloudformation")
    stack = unique_name("ws")
    cfn.create_change_set(
        StackName=stack, ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=STACK
    )
    cfn.get_waiter("change_set_create_complete").wait(
        StackName=stack, ChangeSetName="one", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName="one")
    cfn.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    endpoint = described["Outputs"][0]["OutputValue"]
    assert endpoint.startswith("ws://")
    try:
        # A deployed stage, a two-way $default route: the answer comes back.
        with _connect(endpoint, lambdad.port, stage="live") as ws:
            ws.send("hello")
            assert ws.recv(timeout=30) == "echo: hello"
    finally:
        cfn.delete_stack(StackName=stack)


def test_websocket_lists_page_and_updates_are_checked(lambdad: LambdadServer) -> None:
    """On the shared server: no function runs, only the control API is asked."""
    v2 = lambdad.client("apigatewayv2")
    api_id = v2.create_api(
        Name="ws-paged", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    arn = f"arn:aws:lambda:{lambdad.region}:{PRIMARY.account_id}:function:nothing"
    integration = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                        IntegrationUri=arn)["IntegrationId"]  # fmt: skip
    made = [
        v2.create_integration_response(
            ApiId=api_id, IntegrationId=integration, IntegrationResponseKey=key
        )["IntegrationResponseId"]
        for key in ("$default", "/4\\d\\d/", "/5\\d\\d/")
    ]
    pages = v2.get_paginator("get_integration_responses").paginate(
        ApiId=api_id, IntegrationId=integration, PaginationConfig={"PageSize": 1}
    )
    assert [r["IntegrationResponseId"] for page in pages for r in page["Items"]] == made
    route = v2.create_route(ApiId=api_id, RouteKey="$default")["RouteId"]
    v2.create_route_response(ApiId=api_id, RouteId=route, RouteResponseKey="$default")
    pages = v2.get_paginator("get_route_responses").paginate(
        ApiId=api_id, RouteId=route, PaginationConfig={"PageSize": 1}
    )
    assert [r["RouteResponseKey"] for page in pages for r in page["Items"]] == ["$default"]
    for bad in ("$request.header.x", ""):
        with pytest.raises(v2.exceptions.BadRequestException):
            v2.update_api(ApiId=api_id, RouteSelectionExpression=bad)
    assert v2.get_api(ApiId=api_id)["RouteSelectionExpression"] == "$request.body.action"
    v2.delete_api(ApiId=api_id)
