"""The Lambda REST API's route table: each AWS operation lambdad answers, and the
handler that answers it.

The protocol layer (``api/protocol.py``) finds the operation of a request from
botocore's model; this table is the one place that says who serves it. An operation
of the model missing here is answered as not supported yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambdad.api.handlers import Handler
from lambdad.api.handlers.account import AccountHandlers
from lambdad.api.handlers.aliases import AliasHandlers
from lambdad.api.handlers.capacity_providers import CapacityProviderHandlers
from lambdad.api.handlers.code_signing import CodeSigningHandlers
from lambdad.api.handlers.concurrency import ConcurrencyHandlers
from lambdad.api.handlers.event_invoke_config import EventInvokeConfigHandlers
from lambdad.api.handlers.event_source_mappings import EventSourceMappingHandlers
from lambdad.api.handlers.function_settings import FunctionSettingsHandlers
from lambdad.api.handlers.function_urls import FunctionUrlHandlers
from lambdad.api.handlers.functions import FunctionHandlers
from lambdad.api.handlers.invoke import InvokeHandlers
from lambdad.api.handlers.layers import LayerHandlers
from lambdad.api.handlers.policies import PolicyHandlers
from lambdad.api.handlers.tags import TagHandlers
from lambdad.api.handlers.versions import VersionHandlers


@dataclass(frozen=True, slots=True)
class LambdaHandlers:
    """One handler object per resource, built by the composition root."""

    functions: FunctionHandlers
    versions: VersionHandlers
    invoke: InvokeHandlers
    event_invoke_config: EventInvokeConfigHandlers
    aliases: AliasHandlers
    layers: LayerHandlers
    policies: PolicyHandlers
    concurrency: ConcurrencyHandlers
    tags: TagHandlers
    account: AccountHandlers
    function_urls: FunctionUrlHandlers
    event_source_mappings: EventSourceMappingHandlers
    code_signing: CodeSigningHandlers
    function_settings: FunctionSettingsHandlers
    capacity_providers: CapacityProviderHandlers


_ROUTES: dict[str, Callable[[LambdaHandlers], Handler]] = {
    # functions
    "CreateFunction": lambda h: h.functions.create_function,
    "GetFunction": lambda h: h.functions.get_function,
    "GetFunctionConfiguration": lambda h: h.functions.get_configuration,
    "ListFunctions": lambda h: h.functions.list_functions,
    "UpdateFunctionCode": lambda h: h.functions.update_code,
    "UpdateFunctionConfiguration": lambda h: h.functions.update_configuration,
    "DeleteFunction": lambda h: h.functions.delete_function,
    # versions
    "PublishVersion": lambda h: h.versions.publish_version,
    "ListVersionsByFunction": lambda h: h.versions.list_versions,
    # invoke
    "Invoke": lambda h: h.invoke.invoke,
    "InvokeAsync": lambda h: h.invoke.invoke_async,
    "InvokeWithResponseStream": lambda h: h.invoke.invoke_with_response_stream,
    # asynchronous invocation settings
    "PutFunctionEventInvokeConfig": lambda h: h.event_invoke_config.put,
    "UpdateFunctionEventInvokeConfig": lambda h: h.event_invoke_config.update,
    "GetFunctionEventInvokeConfig": lambda h: h.event_invoke_config.get,
    "DeleteFunctionEventInvokeConfig": lambda h: h.event_invoke_config.delete,
    "ListFunctionEventInvokeConfigs": lambda h: h.event_invoke_config.list,
    # aliases
    "CreateAlias": lambda h: h.aliases.create,
    "GetAlias": lambda h: h.aliases.get,
    "UpdateAlias": lambda h: h.aliases.update,
    "DeleteAlias": lambda h: h.aliases.delete,
    "ListAliases": lambda h: h.aliases.list,
    # layers
    "PublishLayerVersion": lambda h: h.layers.publish_version,
    "GetLayerVersion": lambda h: h.layers.get_version,
    "GetLayerVersionByArn": lambda h: h.layers.get_version_by_arn,
    "ListLayers": lambda h: h.layers.list_layers,
    "ListLayerVersions": lambda h: h.layers.list_versions,
    "DeleteLayerVersion": lambda h: h.layers.delete_version,
    "AddLayerVersionPermission": lambda h: h.layers.add_permission,
    "GetLayerVersionPolicy": lambda h: h.layers.get_policy,
    "RemoveLayerVersionPermission": lambda h: h.layers.remove_permission,
    # resource policies
    "AddPermission": lambda h: h.policies.add_permission,
    "GetPolicy": lambda h: h.policies.get_policy,
    "RemovePermission": lambda h: h.policies.remove_permission,
    # concurrency
    "PutFunctionConcurrency": lambda h: h.concurrency.put_reserved,
    "GetFunctionConcurrency": lambda h: h.concurrency.get_reserved,
    "DeleteFunctionConcurrency": lambda h: h.concurrency.delete_reserved,
    "PutProvisionedConcurrencyConfig": lambda h: h.concurrency.put_provisioned,
    "GetProvisionedConcurrencyConfig": lambda h: h.concurrency.get_provisioned,
    "DeleteProvisionedConcurrencyConfig": lambda h: h.concurrency.delete_provisioned,
    "ListProvisionedConcurrencyConfigs": lambda h: h.concurrency.list_provisioned,
    # tags and account
    "TagResource": lambda h: h.tags.tag,
    "UntagResource": lambda h: h.tags.untag,
    "ListTags": lambda h: h.tags.list,
    "GetAccountSettings": lambda h: h.account.get_settings,
    # function URLs
    "CreateFunctionUrlConfig": lambda h: h.function_urls.create,
    "GetFunctionUrlConfig": lambda h: h.function_urls.get,
    "UpdateFunctionUrlConfig": lambda h: h.function_urls.update,
    "DeleteFunctionUrlConfig": lambda h: h.function_urls.delete,
    "ListFunctionUrlConfigs": lambda h: h.function_urls.list,
    # event source mappings
    "CreateEventSourceMapping": lambda h: h.event_source_mappings.create,
    "GetEventSourceMapping": lambda h: h.event_source_mappings.get,
    "UpdateEventSourceMapping": lambda h: h.event_source_mappings.update,
    "DeleteEventSourceMapping": lambda h: h.event_source_mappings.delete,
    "ListEventSourceMappings": lambda h: h.event_source_mappings.list,
    # code signing
    "CreateCodeSigningConfig": lambda h: h.code_signing.create,
    "GetCodeSigningConfig": lambda h: h.code_signing.get,
    "UpdateCodeSigningConfig": lambda h: h.code_signing.update,
    "DeleteCodeSigningConfig": lambda h: h.code_signing.delete,
    "ListCodeSigningConfigs": lambda h: h.code_signing.list,
    "ListFunctionsByCodeSigningConfig": lambda h: h.code_signing.list_functions,
    "PutFunctionCodeSigningConfig": lambda h: h.code_signing.put_for_function,
    "GetFunctionCodeSigningConfig": lambda h: h.code_signing.get_for_function,
    "DeleteFunctionCodeSigningConfig": lambda h: h.code_signing.delete_for_function,
    # recursion and runtime management
    "PutFunctionRecursionConfig": lambda h: h.function_settings.put_recursion,
    "GetFunctionRecursionConfig": lambda h: h.function_settings.get_recursion,
    "PutRuntimeManagementConfig": lambda h: h.function_settings.put_runtime,
    "GetRuntimeManagementConfig": lambda h: h.function_settings.get_runtime,
    # capacity providers and function scaling
    "CreateCapacityProvider": lambda h: h.capacity_providers.create,
    "GetCapacityProvider": lambda h: h.capacity_providers.get,
    "UpdateCapacityProvider": lambda h: h.capacity_providers.update,
    "DeleteCapacityProvider": lambda h: h.capacity_providers.delete,
    "ListCapacityProviders": lambda h: h.capacity_providers.list,
    "ListFunctionVersionsByCapacityProvider": lambda h: h.capacity_providers.list_function_versions,
    "PutFunctionScalingConfig": lambda h: h.capacity_providers.put_scaling,
    "GetFunctionScalingConfig": lambda h: h.capacity_providers.get_scaling,
}

# The operations lambdad answers, by AWS's names.
OPERATIONS = frozenset(_ROUTES)


def lambda_routes(handlers: LambdaHandlers) -> dict[str, Handler]:
    """Operation name -> the bound handler that answers it."""
    return {name: pick(handlers) for name, pick in _ROUTES.items()}
