"""The handler of each resource type the planner accepts (``kinds.KINDS``)."""

from __future__ import annotations

from lambdad.deploy.bucket_resources import BucketHandler, BucketPolicyHandler
from lambdad.deploy.codedeploy_resources import (
    AlarmHandler,
    ApplicationHandler,
    DeploymentConfigHandler,
    DeploymentGroupHandler,
)
from lambdad.deploy.function_resource import FunctionHandler
from lambdad.deploy.handlers import Handler
from lambdad.deploy.http_api_resources import (
    AuthorizerHandler,
    HttpApiHandler,
    HttpStageHandler,
    IntegrationHandler,
    RouteHandler,
)
from lambdad.deploy.lambda_resources import (
    AliasHandler,
    EventInvokeConfigHandler,
    LayerVersionHandler,
    PermissionHandler,
    UrlHandler,
    VersionHandler,
)
from lambdad.deploy.other_resources import RoleHandler, RuleHandler
from lambdad.deploy.queue_resources import QueueHandler
from lambdad.deploy.rest_api_resources import (
    DeploymentHandler,
    MethodHandler,
    ResourceHandler,
    RestApiHandler,
    StageHandler,
)
from lambdad.deploy.sns_resources import SubscriptionHandler
from lambdad.deploy.source_resources import EventSourceMappingHandler, ScheduleHandler
from lambdad.deploy.websocket_resources import ApiDeploymentHandler, RouteResponseHandler

HANDLERS: dict[str, Handler] = {
    "AWS::Lambda::Function": FunctionHandler(),
    "AWS::Lambda::Version": VersionHandler(),
    "AWS::Lambda::Alias": AliasHandler(),
    "AWS::Lambda::LayerVersion": LayerVersionHandler(),
    "AWS::Lambda::Permission": PermissionHandler(),
    "AWS::Lambda::Url": UrlHandler(),
    "AWS::Lambda::EventInvokeConfig": EventInvokeConfigHandler(),
    "AWS::Events::Rule": RuleHandler(),
    "AWS::IAM::Role": RoleHandler(),
    "AWS::ApiGateway::RestApi": RestApiHandler(),
    "AWS::ApiGateway::Resource": ResourceHandler(),
    "AWS::ApiGateway::Method": MethodHandler(),
    "AWS::ApiGateway::Deployment": DeploymentHandler(),
    "AWS::ApiGateway::Stage": StageHandler(),
    "AWS::ApiGatewayV2::Api": HttpApiHandler(),
    "AWS::ApiGatewayV2::Integration": IntegrationHandler(),
    "AWS::ApiGatewayV2::Route": RouteHandler(),
    "AWS::ApiGatewayV2::Stage": HttpStageHandler(),
    "AWS::ApiGatewayV2::Authorizer": AuthorizerHandler(),
    "AWS::ApiGatewayV2::Deployment": ApiDeploymentHandler(),
    "AWS::ApiGatewayV2::RouteResponse": RouteResponseHandler(),
    "AWS::Lambda::EventSourceMapping": EventSourceMappingHandler(),
    "AWS::Scheduler::Schedule": ScheduleHandler(),
    "AWS::SNS::Subscription": SubscriptionHandler(),
    "AWS::CodeDeploy::Application": ApplicationHandler(),
    "AWS::CodeDeploy::DeploymentGroup": DeploymentGroupHandler(),
    "AWS::CodeDeploy::DeploymentConfig": DeploymentConfigHandler(),
    "AWS::CloudWatch::Alarm": AlarmHandler(),
    "AWS::SQS::Queue": QueueHandler(),
    "AWS::S3::Bucket": BucketHandler(),
    "AWS::S3::BucketPolicy": BucketPolicyHandler(),
}
