"""What ``lambdad deploy`` prints after the outputs: where the stack's APIs and function
URLs answer (a template need not declare them as outputs to be reached)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from lambdad.cli.target import Target


def stack_endpoints(target: Target, cfn: Any, stack: str) -> list[tuple[str, str]]:
    """(logical id, URL) of each REST API stage, HTTP API and function URL of ``stack``."""
    rows = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    port = urlsplit(target.endpoint).port or 80
    host = urlsplit(target.endpoint).hostname or "127.0.0.1"
    out: list[tuple[str, str]] = []
    for row in rows:
        kind, physical, logical = (
            row["ResourceType"],
            row["PhysicalResourceId"],
            row["LogicalResourceId"],
        )
        if kind == "AWS::ApiGateway::RestApi":
            stages = target.client("apigateway").get_stages(restApiId=physical)["item"]
            for stage in stages:
                if stage["stageName"] != "Stage":  # SAM's placeholder stage
                    url = f"http://{host}:{port}/execute-api/{physical}/{stage['stageName']}/"
                    out.append((logical, url))
        elif kind == "AWS::ApiGatewayV2::Api":
            api = target.client("apigatewayv2").get_api(ApiId=physical)
            out.append((logical, f"http://{host}:{port}/execute-api/{physical}/"))
            out.append((logical, str(api["ApiEndpoint"]) + "/"))
        elif kind == "AWS::Lambda::Url":
            name, _, qualifier = physical.partition(":function:")[2].partition(":")
            args = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
            config = target.client("lambda").get_function_url_config(**args)
            out.append((logical, str(config["FunctionUrl"])))
    return out
