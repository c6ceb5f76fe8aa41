"""A REST API resource's methods and their integrations (``apigateway``).

``PutMethod`` adds a method (an HTTP verb or ``ANY``) with ``authorizationType``
``NONE`` or ``CUSTOM`` (a Lambda authorizer, ``rest_authorizers``);
``PutIntegration`` gives it an ``AWS_PROXY`` integration whose ``uri`` is
``arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations``
and whose ``httpMethod`` (``integrationHttpMethod`` to boto3) is ``POST``, as Lambda's
Invoke is. Other kinds are refused plainly: lambdad serves Lambda proxies only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lambdad.errors import BadRequestException, ConflictException, NotFoundException
from lambdad.events.apigw.api_store import REST, ApiStore
from lambdad.events.apigw.rest_authorizers import check_method_auth
from lambdad.model.scope import Scope

Params = dict[str, Any]
VERBS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_METHOD_FIELDS: Final = (
    "authorizationType",
    "authorizerId",
    "apiKeyRequired",
    "operationName",
    "requestParameters",
    "requestModels",
)


class RestMethods:
    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def operations(self) -> dict[str, Callable[[Scope, Params], Params]]:
        return {
            "PutMethod": self.put_method,
            "GetMethod": self.get_method,
            "DeleteMethod": self.delete_method,
            "PutIntegration": self.put_integration,
            "GetIntegration": self.get_integration,
            "DeleteIntegration": self.delete_integration,
        }

    def put_method(self, scope: Scope, params: Params) -> Params:
        verb = params["httpMethod"]
        if verb not in VERBS:
            raise BadRequestException(
                "Invalid HttpMethod specified. Valid options are "
                "GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY"
            )
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            check_method_auth(doc, params)
            methods = resource(doc, params["resourceId"]).setdefault("resourceMethods", {})
            if verb in methods:
                raise ConflictException("Method already exists for this resource")
            method: Params = {"apiKeyRequired": False, "httpMethod": verb}
            method.update({k: params[k] for k in _METHOD_FIELDS if k in params})
            methods[verb] = method
            return dict(method)

    def get_method(self, scope: Scope, params: Params) -> Params:
        return dict(_method(self.store.get(REST, scope, params["restApiId"]), params))

    def delete_method(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            _method(doc, params)
            del resource(doc, params["resourceId"])["resourceMethods"][params["httpMethod"]]
        return {}

    def put_integration(self, scope: Scope, params: Params) -> Params:
        if params["type"] != "AWS_PROXY":
            raise BadRequestException("lambdad serves AWS_PROXY (Lambda) integrations only")
        if params.get("integrationHttpMethod") is None:
            raise BadRequestException("Enumeration value for HttpMethod must be non-empty")
        if not params.get("uri"):
            raise BadRequestException("Invalid ARN specified in the request")
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            method = _method(doc, params)
            integration: Params = {
                "cacheKeyParameters": [],
                "cacheNamespace": params["resourceId"],
                "httpMethod": params["integrationHttpMethod"],
                "passthroughBehavior": "WHEN_NO_MATCH",
                "timeoutInMillis": params.get("timeoutInMillis", 29000),
                "type": "AWS_PROXY",
                "uri": params["uri"],
            }
            method["methodIntegration"] = integration
            return dict(integration)

    def get_integration(self, scope: Scope, params: Params) -> Params:
        method = _method(self.store.get(REST, scope, params["restApiId"]), params)
        if "methodIntegration" not in method:
            raise NotFoundException("Invalid Integration identifier specified")
        return dict(method["methodIntegration"])

    def delete_integration(self, scope: Scope, params: Params) -> Params:
        with self.store.edit(REST, scope, params["restApiId"]) as doc:
            method = _method(doc, params)
            if method.pop("methodIntegration", None) is None:
                raise NotFoundException("Invalid Integration identifier specified")
        return {}


def resource(doc: Params, resource_id: str) -> Params:
    found: Params | None = doc["Resources"].get(resource_id)
    if found is None:
        raise NotFoundException("Invalid Resource identifier specified")
    return found


def _method(doc: Params, params: Params) -> Params:
    methods = resource(doc, params["resourceId"]).get("resourceMethods") or {}
    method: Params | None = methods.get(params["httpMethod"])
    if method is None:
        raise NotFoundException("Invalid Method identifier specified")
    return method
