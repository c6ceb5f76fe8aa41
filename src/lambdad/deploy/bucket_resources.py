"""``AWS::S3::Bucket``: lambdad is not S3; a template's bucket is made on the
S3-compatible store the operator configured (``AWS_ENDPOINT_URL_S3``, where lambdad
reads code), signed with the account's outbound identity, with its versioning, tags,
public access block, default encryption, policy (``AWS::S3::BucketPolicy``)
and notifications to queues (``QueueConfigurations``: how S3 events reach a function,
through a queue its SQS event polls). Ref is the bucket's name. As on AWS, a bucket
that still holds objects is not deleted (the deletion fails and says so). Without an
S3 endpoint the plan refuses the type, saying why (cfn_api.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.handlers import Applied, Env, error_code
from lambdad.deploy.records import ResourceRecord

_GONE = frozenset({"NoSuchBucket", "404"})
NO_S3 = "no S3 endpoint is configured in lambdad (AWS_ENDPOINT_URL_S3), so it cannot make a bucket"


def _s3(env: Env) -> Any:
    if env.outbound is None:
        raise RuntimeError(NO_S3)
    return env.outbound("s3", env.identity.region)


def _notifications(props: Mapping[str, Any]) -> dict[str, Any]:
    """S3's NotificationConfiguration of the template's: to queues and topics (a
    function is reached through one: lambdad is not where S3 invokes functions)."""
    given = props.get("NotificationConfiguration") or {}
    if given.get("LambdaConfigurations"):
        raise ValueError(
            "LambdaConfigurations: the bucket's store cannot invoke lambdad's functions; "
            "notify a queue (QueueConfigurations) that the function's SQS event polls"
        )
    out: dict[str, Any] = {}
    for kind, target, arn in (("QueueConfigurations", "Queue", "QueueArn"),
                              ("TopicConfigurations", "Topic", "TopicArn")):  # fmt: skip
        entries = []
        for c in given.get(kind) or []:
            entry: dict[str, Any] = {arn: c[target], "Events": [c["Event"]]}
            rules = ((c.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                filter_rules = [{"Name": r["Name"], "Value": r["Value"]} for r in rules]
                entry["Filter"] = {"Key": {"FilterRules": filter_rules}}
            entries.append(entry)
        if entries:
            out[kind] = entries
    return out


def _rules(encryption: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's BucketEncryption as S3's ServerSideEncryptionConfiguration."""
    rules = []
    for rule in encryption.get("ServerSideEncryptionConfiguration") or []:
        out: dict[str, Any] = {}
        default = rule.get("ServerSideEncryptionByDefault")
        if default:
            out["ApplyServerSideEncryptionByDefault"] = dict(default)
        if "BucketKeyEnabled" in rule:
            out["BucketKeyEnabled"] = str(rule["BucketKeyEnabled"]).lower() == "true"
        rules.append(out)
    return {"Rules": rules}


class BucketPolicyHandler:
    """``AWS::S3::BucketPolicy``: the policy put on the bucket (in the store that has it)."""

    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        bucket = str(props["Bucket"])
        self._put(env, bucket, props)
        return Applied(bucket, {"Ref": bucket})

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self._put(env, record.physical_id, props)
        return Applied(record.physical_id, dict(record.attributes))

    def _put(self, env: Env, bucket: str, props: Mapping[str, Any]) -> None:
        policy = props["PolicyDocument"]
        text = policy if isinstance(policy, str) else json.dumps(policy)
        _s3(env).put_bucket_policy(Bucket=bucket, Policy=text)

    def delete(self, env: Env, record: ResourceRecord) -> None:
        try:
            _s3(env).delete_bucket_policy(Bucket=record.physical_id)
        except Exception as exc:
            if error_code(exc) not in _GONE:
                raise


class BucketHandler:
    def create(
        self, env: Env, logical_id: str, props: Mapping[str, Any], replaces: ResourceRecord | None
    ) -> Applied:
        name = (
            props.get("BucketName")
            or env.name_for(logical_id, 63, replaces.physical_id if replaces else "").lower()
        )
        name = str(name)
        _notifications(props)  # refused before anything is made
        s3 = _s3(env)
        region = env.identity.region
        where = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}
        }  # fmt: skip
        s3.create_bucket(Bucket=name, **where)
        self._configure(s3, name, props, {})
        i = env.identity
        attributes = {
            "Ref": name,
            "Arn": f"arn:{i.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.{i.url_suffix}",
            "RegionalDomainName": f"{name}.s3.{region}.{i.url_suffix}",
        }
        return Applied(name, attributes)

    def update(self, env: Env, record: ResourceRecord, props: Mapping[str, Any]) -> Applied:
        self._configure(_s3(env), record.physical_id, props, record.properties)
        return Applied(record.physical_id, dict(record.attributes))

    def _configure(
        self, s3: Any, name: str, props: Mapping[str, Any], before: Mapping[str, Any]
    ) -> None:
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status and props.get("VersioningConfiguration") != before.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        if props.get("Tags") != before.get("Tags"):
            tags = [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags") or []]
            if tags:
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
            elif before.get("Tags"):
                s3.delete_bucket_tagging(Bucket=name)
        block = props.get("PublicAccessBlockConfiguration")
        if block and block != before.get("PublicAccessBlockConfiguration"):
            flags = {k: str(v).lower() == "true" for k, v in block.items()}
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)
        encryption = props.get("BucketEncryption")
        if encryption and encryption != before.get("BucketEncryption"):
            rules = _rules(encryption)
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=rules)
        if props.get("NotificationConfiguration") != before.get("NotificationConfiguration"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_notifications(props)
            )

    def delete(self, env: Env, record: ResourceRecord) -> None:
        try:
            _s3(env).delete_bucket(Bucket=record.physical_id)
        except Exception as exc:
            if error_code(exc) not in _GONE:
                raise
