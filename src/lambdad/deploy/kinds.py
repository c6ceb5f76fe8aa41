"""The resource types lambdad applies, and what the planner must know of each: which
property changes replace the resource (a new physical resource, the old one deleted at
the end) and which attributes survive an update in place.

Types of resources served by other parts of lambdad join this table when those land;
every other type is listed as unsupported by the planner, never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    type: str
    # A change of any of these replaces the resource.
    replace_on: frozenset[str] = frozenset()
    # Any change replaces it (the resource is immutable).
    immutable: bool = False
    # Attributes ("Ref" for Ref) an update in place leaves as they were.
    stable: frozenset[str] = frozenset({"Ref", "Arn"})
    # The attributes Fn::GetAtt may read (others are a template error).
    attributes: frozenset[str] = frozenset({"Arn"})


def _kind(
    type_: str,
    *replace_on: str,
    immutable: bool = False,
    stable: tuple[str, ...] = ("Ref", "Arn"),
    attributes: tuple[str, ...] = ("Arn",),
) -> Kind:
    return Kind(type_, frozenset(replace_on), immutable, frozenset(stable), frozenset(attributes))


KINDS: dict[str, Kind] = {
    k.type: k
    for k in (
        _kind("AWS::Lambda::Function", "FunctionName", "PackageType"),
        _kind("AWS::Lambda::Version", immutable=True, attributes=("Version", "FunctionArn")),
        _kind(
            "AWS::Lambda::Alias", "FunctionName", "Name",
            stable=("Ref", "AliasArn"), attributes=("AliasArn",),
        ),
        _kind("AWS::Lambda::LayerVersion", immutable=True, attributes=("LayerVersionArn",)),
        _kind("AWS::Lambda::Permission", immutable=True, attributes=()),
        _kind(
            "AWS::Lambda::Url", "TargetFunctionArn", "Qualifier",
            stable=("Ref", "FunctionArn", "FunctionUrl"), attributes=("FunctionArn", "FunctionUrl"),
        ),
        _kind(
            "AWS::Lambda::EventInvokeConfig", "FunctionName", "Qualifier",
            stable=("Ref",), attributes=(),
        ),
        _kind("AWS::Events::Rule", "Name", "EventBusName"),
        _kind(
            "AWS::IAM::Role", "RoleName", "Path",
            stable=("Ref", "Arn", "RoleId"), attributes=("Arn", "RoleId"),
        ),
        _kind(
            "AWS::ApiGateway::RestApi",
            stable=("Ref", "RootResourceId"), attributes=("RootResourceId", "RestApiId"),
        ),
        _kind("AWS::ApiGateway::Resource", immutable=True, attributes=("ResourceId",)),
        _kind("AWS::ApiGateway::Method", "RestApiId", "ResourceId", "HttpMethod", attributes=()),
        _kind("AWS::ApiGateway::Deployment", immutable=True, attributes=("DeploymentId",)),
        _kind("AWS::ApiGateway::Stage", "RestApiId", "StageName", attributes=()),
        _kind(
            "AWS::ApiGatewayV2::Api",
            stable=("Ref", "ApiId", "ApiEndpoint"), attributes=("ApiId", "ApiEndpoint"),
        ),
        _kind("AWS::ApiGatewayV2::Integration", "ApiId", "IntegrationType", attributes=()),
        _kind("AWS::ApiGatewayV2::Route", "ApiId", attributes=()),
        _kind("AWS::ApiGatewayV2::Stage", "ApiId", "StageName", attributes=()),
        _kind(
            "AWS::ApiGatewayV2::Deployment", immutable=True,
            stable=("Ref", "DeploymentId"), attributes=("DeploymentId",),
        ),
        _kind("AWS::ApiGatewayV2::RouteResponse", "ApiId", "RouteId", attributes=()),
        _kind(
            "AWS::ApiGatewayV2::Authorizer", "ApiId",
            stable=("Ref", "AuthorizerId"), attributes=("AuthorizerId",),
        ),
        _kind(
            "AWS::Lambda::EventSourceMapping",
            "EventSourceArn", "StartingPosition", "StartingPositionTimestamp",
            stable=("Ref", "Id", "EventSourceMappingArn"),
            attributes=("Id", "EventSourceMappingArn"),
        ),
        _kind("AWS::Scheduler::Schedule", "Name", "GroupName"),
        _kind("AWS::SNS::Subscription", "TopicArn", "Protocol", "Endpoint", "Region"),
        _kind("AWS::CodeDeploy::Application", "ApplicationName", "ComputePlatform", attributes=()),
        _kind(
            "AWS::CodeDeploy::DeploymentGroup", "ApplicationName", "DeploymentGroupName",
            attributes=(),
        ),
        _kind("AWS::CodeDeploy::DeploymentConfig", immutable=True, attributes=()),
        _kind("AWS::CloudWatch::Alarm", "AlarmName"),
        _kind(
            "AWS::SQS::Queue", "QueueName", "FifoQueue",
            stable=("Ref", "Arn", "QueueName", "QueueUrl"),
            attributes=("Arn", "QueueName", "QueueUrl"),
        ),
        _kind(
            "AWS::S3::Bucket", "BucketName",
            stable=("Ref", "Arn", "DomainName", "RegionalDomainName"),
            attributes=("Arn", "DomainName", "RegionalDomainName"),
        ),
        _kind("AWS::S3::BucketPolicy", "Bucket", attributes=()),
    )
}  # fmt: skip
