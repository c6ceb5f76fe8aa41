"""The Lambda resources around a function: ``Version``, ``Alias``, ``Permission``,
``Url``, ``EventInvokeConfig`` and ``LayerVersion``, each through its own operations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdad.deploy import traffic_shift
from lambdad.deploy.function_resource import code, wait_active
from lambdad.deploy.handlers import Applied, Env, as_int, ignore_missing, pick
from lambdad.deploy.records import ResourceRecord


def _split_qualified(name: str) -> tuple[str, str | None]:
    """A function ARN with a qualifier -> (unqualified name or ARN, qualifier)."""
    parts = name.split(":")
    if len(parts) == 8 and parts[0] == "arn":
        return ":".join(parts[:7]), parts[7]
    return name, None


class VersionHandler:
    """Immutable: a change publishes a new version; the old one is deleted (unless
    retained, as SAM's AutoPublishAlias retains them)."""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        out = env.lambda_client.publish_version(
            **pick(props, "FunctionName", "Description", "CodeSha256")
        )
        wait_active(env, out["FunctionName"], out["Version"])
        arn = out["FunctionArn"]
        return Applied(arn, {"Ref": arn, "Version": out["Version"], "FunctionArn": arn})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        name, version = _split_qualified(record.physical_id)
        ignore_missing(
            lambda: env.lambda_client.delete_function(FunctionName=name, Qualifier=version)
        )


def _routing(props: Mapping[str, Any]) -> dict[str, Any]:
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    return {
        "RoutingConfig": {
            "AdditionalVersionWeights": {
                str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights
            }
        }
    }


class AliasHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        out = env.lambda_client.create_alias(
            **pick(props, "FunctionName", "Name", "FunctionVersion", "Description"),
            **_routing(props),
        )
        arn = out["AliasArn"]
        return Applied(arn, {"Ref": arn, "AliasArn": arn})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        old = str(record.properties.get("FunctionVersion", ""))
        new = str(props.get("FunctionVersion", ""))
        shifted = traffic_shift.policy_of(props) is not None and not env.rolling_back
        if shifted and old and new != old:
            # A CodeDeploy UpdatePolicy (SAM's DeploymentPreference): traffic shifted.
            def update(**args: Any) -> None:
                env.lambda_client.update_alias(
                    **pick(props, "FunctionName", "Name"),
                    Description=props.get("Description", ""),
                    **args,
                )

            traffic_shift.run(env, props, old, new, update)
            return Applied(record.physical_id, dict(record.attributes))
        env.lambda_client.update_alias(
            **pick(props, "FunctionName", "Name", "FunctionVersion"),
            Description=props.get("Description", ""),
            **_routing(props),
        )
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        p = record.properties
        ignore_missing(
            lambda: env.lambda_client.delete_alias(FunctionName=p["FunctionName"], Name=p["Name"])
        )


class PermissionHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        sid = env.name_for(logical_id, 100, replaces.physical_id if replaces else "")
        name, qualifier = _split_qualified(str(props["FunctionName"]))
        env.lambda_client.add_permission(
            FunctionName=name,
            StatementId=sid,
            **({"Qualifier": qualifier} if qualifier else {}),
            **pick(
                props, "Action", "Principal", "SourceArn", "SourceAccount",
                "EventSourceToken", "FunctionUrlAuthType", "PrincipalOrgID",
                "InvokedViaFunctionUrl",
            ),
        )  # fmt: skip
        return Applied(sid, {"Ref": sid})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        name, qualifier = _split_qualified(str(record.properties["FunctionName"]))
        ignore_missing(
            lambda: env.lambda_client.remove_permission(
                FunctionName=name,
                StatementId=record.physical_id,
                **({"Qualifier": qualifier} if qualifier else {}),
            )
        )


class UrlHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        out = env.lambda_client.create_function_url_config(**_url_args(props))
        arn = out["FunctionArn"]
        return Applied(arn, {"Ref": arn, "FunctionArn": arn, "FunctionUrl": out["FunctionUrl"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        args = _url_args(props)
        args.setdefault("Cors", {})
        env.lambda_client.update_function_url_config(**args)
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        args = pick(_url_args(record.properties), "FunctionName", "Qualifier")
        ignore_missing(lambda: env.lambda_client.delete_function_url_config(**args))


def _url_args(props: Mapping[str, Any]) -> dict[str, Any]:
    args = {
        "FunctionName": props["TargetFunctionArn"],
        **pick(props, "AuthType", "Cors", "InvokeMode", "Qualifier"),
    }
    if "Cors" in args:
        args["Cors"] = as_int(args["Cors"], "MaxAge")
    return args


class EventInvokeConfigHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        self._put(env, props)
        ref = f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}"
        return Applied(ref, {"Ref": ref})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self._put(env, props)
        return Applied(record.physical_id, dict(record.attributes))

    def _put(self, env: Env, props: Mapping[str, Any]) -> None:
        p = as_int(props, "MaximumRetryAttempts", "MaximumEventAgeInSeconds")
        env.lambda_client.put_function_event_invoke_config(
            **pick(
                p, "FunctionName", "Qualifier", "MaximumRetryAttempts",
                "MaximumEventAgeInSeconds", "DestinationConfig",
            )
        )  # fmt: skip

    def delete(self, env: Env, record: ResourceRecord) -> None:
        args = pick(record.properties, "FunctionName", "Qualifier")
        ignore_missing(lambda: env.lambda_client.delete_function_event_invoke_config(**args))


class LayerVersionHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = props.get("LayerName") or env.name_for(logical_id, 140)
        out = env.lambda_client.publish_layer_version(
            LayerName=name,
            Content=code(env, props.get("Content") or {}, ""),
            **pick(
                props, "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"
            ),
        )
        arn = out["LayerVersionArn"]
        return Applied(arn, {"Ref": arn, "LayerVersionArn": arn})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        return Applied(record.physical_id, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        arn = record.physical_id
        layer, version = arn.rsplit(":", 1)
        ignore_missing(
            lambda: env.lambda_client.delete_layer_version(
                LayerName=layer, VersionNumber=int(version)
            )
        )
