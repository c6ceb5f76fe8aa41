"""A runnable version: everything the data plane reads about the version it runs.

``FunctionService.resolve`` builds one ``RunnableVersion`` per resolve (the invoke path
caches it until the function changes); ``invoke/`` and ``environments/`` read its typed
fields and never the stored document. ``from_configuration`` is the one place where a
missing setting takes its default (the defaults themselves live in ``model/function``,
beside the document CreateFunction stores).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdad.model import function as fmodel
from lambdad.model import snapstart
from lambdad.model.arn import LATEST, function_arn
from lambdad.model.image_config import ImageRun
from lambdad.model.scope import Scope

# A version's states (a SnapStart version is Pending until its snapshot is taken).
PENDING, ACTIVE, FAILED = snapstart.PENDING, snapstart.ACTIVE, snapstart.FAILED
PUBLISHED_VERSIONS = snapstart.PUBLISHED_VERSIONS
# A function tag that chooses the network mode of its environments (environments/pool.py).
NETWORK_TAG = "lambdad:network"


@dataclass(frozen=True, slots=True)
class RunnableVersion:
    """A version ready to run: its settings typed, its environment unsealed."""

    scope: Scope
    name: str
    version: str
    revision_id: str
    code_sha256_hex: str
    runtime: str = ""
    handler: str = ""
    state: str = ACTIVE
    memory_mb: int = fmodel.DEFAULT_MEMORY_MB
    timeout_s: float = float(fmodel.DEFAULT_TIMEOUT_S)
    ephemeral_storage_mb: int = fmodel.DEFAULT_EPHEMERAL_STORAGE_MB
    architectures: tuple[str, ...] = (fmodel.DEFAULT_ARCHITECTURE,)
    # The function's own variables, unsealed.
    environment: Mapping[str, str] = field(default_factory=dict)
    # The version's layers, in order (hex SHA-256 of each archive).
    layer_sha256_hex: tuple[str, ...] = ()
    # SnapStart.ApplyOn is PublishedVersions (snapshots are taken of published versions).
    snap_start: bool = False
    log_group: str = ""
    log_format: str = "Text"
    # LoggingConfig's levels (JSON format only; "" with Text).
    application_log_level: str = ""
    system_log_level: str = ""
    tracing_mode: str = "PassThrough"
    role: str = ""
    dead_letter_arn: str | None = None
    # Settings lambdad cannot honour, named in the init log (runtimes/host_support).
    vpc_subnet_ids: tuple[str, ...] = ()
    file_system_mount_paths: tuple[str, ...] = ()
    # The function's lambdad:network tag (None: the server's mode).
    network_tag: str | None = None
    # The qualifier the caller named (an alias, a version, $LATEST), None when unqualified.
    invoked_as: str | None = None
    # A container image function's image and ImageConfig (None: a .zip function).
    image: ImageRun | None = None

    @property
    def arn(self) -> str:
        return function_arn(self.scope.region, self.scope.account, self.name)

    @property
    def restores_from_snapshot(self) -> bool:
        """Whether environments of this version start from a SnapStart snapshot."""
        return self.snap_start and self.version != LATEST

    def check_invocable(self) -> None:
        """Refuse to run a SnapStart version whose snapshot is not taken (Pending) or
        could not be (Failed), as AWS refuses it (the rule is SnapStart's)."""
        snapstart.check_state(self.state)

    def settings_document(self) -> dict[str, Any]:
        """The settings ``runtimes.host_support.setting_shortfalls`` reads, in the
        configuration's own shape."""
        return {
            "Architectures": list(self.architectures),
            "VpcConfig": {"SubnetIds": list(self.vpc_subnet_ids)},
            "FileSystemConfigs": [{"LocalMountPath": p} for p in self.file_system_mount_paths],
        }


def from_configuration(
    scope: Scope,
    name: str,
    version: str,
    config: Mapping[str, Any],
    *,
    code_sha256_hex: str,
    environment: Mapping[str, str] | None = None,
    layer_sha256_hex: tuple[str, ...] = (),
    tags: Mapping[str, str] | None = None,
    invoked_as: str | None = None,
    image: ImageRun | None = None,
) -> RunnableVersion:
    """The runnable version of a configuration in the ``FunctionConfiguration`` shape
    (as ``FunctionService.render`` makes it); every default is applied here."""
    logging_config = config.get("LoggingConfig") or {}
    storage = config.get("EphemeralStorage") or {}
    vpc = config.get("VpcConfig") or {}
    return RunnableVersion(
        scope=scope,
        name=name,
        version=version,
        revision_id=str(config.get("RevisionId", "")),
        code_sha256_hex=code_sha256_hex,
        runtime=str(config.get("Runtime") or ""),
        handler=str(config.get("Handler") or ""),
        state=str(config.get("State") or ACTIVE),
        memory_mb=int(config.get("MemorySize") or fmodel.DEFAULT_MEMORY_MB),
        timeout_s=float(config.get("Timeout") or fmodel.DEFAULT_TIMEOUT_S),
        ephemeral_storage_mb=int(storage.get("Size") or fmodel.DEFAULT_EPHEMERAL_STORAGE_MB),
        architectures=tuple(config.get("Architectures") or (fmodel.DEFAULT_ARCHITECTURE,)),
        environment=dict(environment or {}),
        layer_sha256_hex=tuple(layer_sha256_hex),
        snap_start=(config.get("SnapStart") or {}).get("ApplyOn") == PUBLISHED_VERSIONS,
        log_group=str(logging_config.get("LogGroup") or f"/aws/lambda/{name}"),
        log_format=str(logging_config.get("LogFormat") or "Text"),
        application_log_level=str(logging_config.get("ApplicationLogLevel") or ""),
        system_log_level=str(logging_config.get("SystemLogLevel") or ""),
        tracing_mode=str((config.get("TracingConfig") or {}).get("Mode") or "PassThrough"),
        role=str(config.get("Role") or ""),
        dead_letter_arn=(config.get("DeadLetterConfig") or {}).get("TargetArn") or None,
        vpc_subnet_ids=tuple(vpc.get("SubnetIds") or ()),
        file_system_mount_paths=tuple(
            str(fs.get("LocalMountPath", "its mount path"))
            for fs in config.get("FileSystemConfigs") or ()
        ),
        network_tag=(tags or {}).get(NETWORK_TAG),
        invoked_as=invoked_as,
        image=image,
    )
