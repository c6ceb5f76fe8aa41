"""``AWS::Lambda::Function``: CreateFunction, then UpdateFunctionCode and
UpdateFunctionConfiguration for what changed, waiting until the function is Active
and its last update Successful, as CloudFormation does before it goes on."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, as_int, ignore_missing, pick
from lambdad.deploy.records import ResourceRecord

_CONFIG = (
    "Description", "Environment", "Handler", "KmsKeyArn", "Layers", "MemorySize", "Role",
    "Runtime", "Timeout", "TracingConfig", "VpcConfig", "DeadLetterConfig",
    "EphemeralStorage", "SnapStart", "LoggingConfig", "ImageConfig", "FileSystemConfigs",
    "RuntimeManagementConfig",
)  # fmt: skip
# What UpdateFunctionConfiguration sets when the template no longer says.
_RESET: dict[str, Any] = {
    "Description": "",
    "Environment": {"Variables": {}},
    "Layers": [],
    "MemorySize": 128,
    "Timeout": 3,
    "TracingConfig": {"Mode": "PassThrough"},
    "EphemeralStorage": {"Size": 512},
    "DeadLetterConfig": {"TargetArn": ""},
}
_INTS = ("MemorySize", "Timeout", "ReservedConcurrentExecutions")
_PENDING_SLEEP = 0.05


class FunctionHandler:
    def planned_id(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> str:
        return str(
            props.get("FunctionName")
            or env.name_for(logical_id, 64, replaces.physical_id if replaces else "")
        )

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = self.planned_id(env, logical_id, props, replaces)
        p = as_int(props, *_INTS)
        args = _config(p)
        args.update(
            FunctionName=name,
            Code=code(env, p.get("Code") or {}, str(p.get("Runtime", ""))),
            Publish=False,
        )
        args.update(pick(p, "Architectures", "PackageType", "CodeSigningConfigArn"))
        if p.get("Tags"):
            args["Tags"] = {t["Key"]: t["Value"] for t in p["Tags"]}
        out = env.lambda_client.create_function(**args)
        if "ReservedConcurrentExecutions" in p:
            env.lambda_client.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=p["ReservedConcurrentExecutions"]
            )
        wait_active(env, name)
        return Applied(name, {"Ref": name, "Arn": out["FunctionArn"]})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        name = record.physical_id
        old, new = as_int(record.properties, *_INTS), as_int(props, *_INTS)
        client = env.lambda_client
        if new.get("Code") != old.get("Code") or new.get("Architectures") != old.get(
            "Architectures"
        ):
            zipped = code(env, new.get("Code") or {}, str(new.get("Runtime", "")))
            client.update_function_code(FunctionName=name, **zipped, **pick(new, "Architectures"))
            wait_active(env, name)
        config = _config(new)
        for key in set(_CONFIG) & set(old) - set(new):
            if key in _RESET:
                config[key] = _RESET[key]
        if _config(old) != _config(new) or len(config) > len(_config(new)):
            client.update_function_configuration(FunctionName=name, **config)
            wait_active(env, name)
        if new.get("ReservedConcurrentExecutions") != old.get("ReservedConcurrentExecutions"):
            if "ReservedConcurrentExecutions" in new:
                client.put_function_concurrency(
                    FunctionName=name,
                    ReservedConcurrentExecutions=new["ReservedConcurrentExecutions"],
                )
            else:
                client.delete_function_concurrency(FunctionName=name)
        _retag(env, record.attributes["Arn"], old.get("Tags") or [], new.get("Tags") or [])
        return Applied(name, dict(record.attributes))

    def delete(self, env: Env, record: ResourceRecord) -> None:
        ignore_missing(lambda: env.lambda_client.delete_function(FunctionName=record.physical_id))


def _config(props: Mapping[str, Any]) -> dict[str, Any]:
    out = pick(props, *_CONFIG)
    if "EphemeralStorage" in out:
        out["EphemeralStorage"] = as_int(out["EphemeralStorage"], "Size")
    return out


def code(env: Env, spec: Mapping[str, Any], runtime: str) -> dict[str, Any]:
    """CreateFunction's ``Code`` (UpdateFunctionCode's arguments) for a template's."""
    if "ZipFile" in spec:
        return {"ZipFile": inline_zip(str(spec["ZipFile"]), runtime)}
    if "S3Bucket" in spec and "S3Key" in spec:
        data = env.read_artifact(str(spec["S3Bucket"]), str(spec["S3Key"]))
        if data is not None:
            return {"ZipFile": data}
        return pick(spec, "S3Bucket", "S3Key", "S3ObjectVersion")
    return dict(spec)


def inline_zip(source: str, runtime: str) -> bytes:
    """A template's inline code as CloudFormation packages it: ``index.py`` for
    Python, ``index.js`` for Node.js."""
    name = "index.js" if runtime.startswith("nodejs") else "index.py"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, source)
    return buf.getvalue()


def wait_active(env: Env, name: str, qualifier: str | None = None) -> None:
    """Until the function (version) is Active with its last update done."""
    deadline = env.monotonic() + env.wait_limit
    args = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    while True:
        cfg = env.lambda_client.get_function_configuration(**args)
        state, update = cfg.get("State"), cfg.get("LastUpdateStatus")
        if state == "Failed" or update == "Failed":
            reason = cfg.get("StateReason") or cfg.get("LastUpdateStatusReason") or "failed"
            raise RuntimeError(f"function {name} failed: {reason}")
        if state in (None, "Active") and update in (None, "Successful"):
            return
        if env.monotonic() > deadline:
            raise RuntimeError(f"function {name} did not become Active in {env.wait_limit:.0f} s")
        env.sleep(_PENDING_SLEEP)


def _retag(env: Env, arn: str, old: list[dict[str, str]], new: list[dict[str, str]]) -> None:
    before = {t["Key"]: t["Value"] for t in old}
    after = {t["Key"]: t["Value"] for t in new}
    gone = sorted(set(before) - set(after))
    if gone:
        env.lambda_client.untag_resource(Resource=arn, TagKeys=gone)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
        env.lambda_client.tag_resource(Resource=arn, Tags=changed)
