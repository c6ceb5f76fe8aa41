"""The runnable version: one typed value per resolve, every default applied once."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lambdad.errors import ResourceConflictException, SnapStartNotReadyException
from lambdad.model import function as fmodel
from lambdad.model.scope import Scope
from lambdad.model.version import NETWORK_TAG, RunnableVersion, from_configuration

EAST = Scope("123456789012", "us-east-1")


def runnable(config: dict[str, Any], version: str = "$LATEST", **kw: Any) -> RunnableVersion:
    return from_configuration(EAST, "fn", version, config, code_sha256_hex="ab" * 32, **kw)


def test_a_sparse_configuration_takes_the_defaults_createfunction_stores() -> None:
    stored = fmodel.default_config("fn", EAST.region)
    sparse = runnable({"Runtime": "python3.12", "Handler": "app.handler"})
    full = runnable({**stored, "Runtime": "python3.12", "Handler": "app.handler"})
    for rv in (sparse, full):
        assert (rv.memory_mb, rv.timeout_s, rv.ephemeral_storage_mb) == (128, 3.0, 512)
        assert rv.architectures == ("x86_64",)
        assert (rv.log_group, rv.log_format, rv.tracing_mode) == (
            "/aws/lambda/fn",
            "Text",
            "PassThrough",
        )
        assert (rv.state, rv.snap_start, rv.dead_letter_arn, rv.network_tag) == (
            "Active",
            False,
            None,
            None,
        )


def test_every_setting_the_data_plane_reads_is_typed() -> None:
    rv = runnable(
        {
            "RevisionId": "rev-1",
            "Runtime": "nodejs20.x",
            "Handler": "index.handler",
            "MemorySize": 1024,
            "Timeout": 30,
            "EphemeralStorage": {"Size": 2048},
            "Architectures": ["arm64"],
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/custom/group"},
            "TracingConfig": {"Mode": "Active"},
            "Role": "arn:aws:iam::123456789012:role/r",
            "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
            "VpcConfig": {"SubnetIds": ["subnet-1"]},
            "FileSystemConfigs": [{"Arn": "x", "LocalMountPath": "/mnt/efs"}],
            "SnapStart": {"ApplyOn": "PublishedVersions"},
            "State": "Pending",
        },
        version="4",
        environment={"A": "1"},
        layer_sha256_hex=("cd" * 32,),
        tags={NETWORK_TAG: "none", "team": "x"},
        invoked_as="live",
    )
    assert (rv.revision_id, rv.runtime, rv.handler) == ("rev-1", "nodejs20.x", "index.handler")
    assert (rv.memory_mb, rv.timeout_s, rv.ephemeral_storage_mb) == (1024, 30.0, 2048)
    assert rv.architectures == ("arm64",)
    assert (rv.log_group, rv.log_format, rv.tracing_mode) == ("/custom/group", "JSON", "Active")
    assert rv.role == "arn:aws:iam::123456789012:role/r"
    assert rv.dead_letter_arn == "arn:aws:sqs:us-east-1:123456789012:dlq"
    assert (rv.vpc_subnet_ids, rv.file_system_mount_paths) == (("subnet-1",), ("/mnt/efs",))
    assert (rv.snap_start, rv.restores_from_snapshot, rv.state) == (True, True, "Pending")
    assert (dict(rv.environment), rv.layer_sha256_hex) == ({"A": "1"}, ("cd" * 32,))
    assert (rv.network_tag, rv.invoked_as) == ("none", "live")
    assert rv.arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"


def test_the_value_is_frozen() -> None:
    rv = runnable({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        rv.memory_mb = 256  # type: ignore[misc]
    assert dataclasses.replace(rv, invoked_as="live").invoked_as == "live"


def test_latest_never_restores_from_a_snapshot() -> None:
    rv = runnable({"SnapStart": {"ApplyOn": "PublishedVersions"}})
    assert rv.snap_start
    assert not rv.restores_from_snapshot


def test_a_snapstart_version_runs_only_once_its_snapshot_is_taken() -> None:
    runnable({"State": "Active"}).check_invocable()
    with pytest.raises(SnapStartNotReadyException):
        runnable({"State": "Pending"}, version="1").check_invocable()
    with pytest.raises(ResourceConflictException, match="Failed"):
        runnable({"State": "Failed"}, version="1").check_invocable()


def test_the_settings_document_says_what_host_support_checks() -> None:
    rv = runnable(
        {
            "Architectures": ["arm64"],
            "VpcConfig": {"SubnetIds": ["subnet-1"]},
            "FileSystemConfigs": [{"Arn": "x"}],
        }
    )
    assert rv.settings_document() == {
        "Architectures": ["arm64"],
        "VpcConfig": {"SubnetIds": ["subnet-1"]},
        "FileSystemConfigs": [{"LocalMountPath": "its mount path"}],
    }
