"""The change-event hub: the control plane says what changed, whoever cares listens.

One ``ChangeHub`` is built by the composition root and passed to the constructors of
the services that publish (functions, aliases, concurrency) and of those that follow
(the warm pool retires environments, provisioned concurrency and function scaling
reconfigure, the resolve cache forgets, policies and concurrency tidy up, SnapStart's
jobs take and drop snapshots). So no service is handed another after construction, and
nothing below the control plane imports it.

Listeners are called synchronously, in the order they subscribed, on the publisher's
thread (control-plane updates run in worker threads: a listener that touches the event
loop hands its work over, as ``EnvironmentPool.retire`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lambdad.model.scaling import VersionScaling
from lambdad.model.scope import Scope

# (scope, function, version) after a version changed or was deleted; version None: the
# whole function (deleted, or its tags changed).
FunctionListener = Callable[[Scope, str, str | None], None]
# (scope, function, alias) after an alias changed or was deleted.
AliasListener = Callable[[Scope, str, str], None]
# (scope, function, qualifier; None: the function itself) after a resource policy or a
# function URL config changed or was deleted (published after the store committed it).
AttachmentListener = Callable[[Scope, str, str | None], None]
# (scope, function, qualifier, requested count; None when the configuration was removed).
ProvisionedListener = Callable[[Scope, str, str, int | None], None]
# (scope, function, version) after a SnapStart version was published: its snapshot is
# to be taken.
SnapshotListener = Callable[[Scope, str, str], None]
# (scope, function, versions) after SnapStart versions were deleted: their snapshots go.
SnapshotsDeletedListener = Callable[[Scope, str, list[str]], None]
# (scope, function, version, its scaling) after a version's function scaling
# configuration was put (model/scaling.py).
ScalingListener = Callable[[Scope, str, str, VersionScaling], None]
# (scope, uuid) after an event source mapping was created, updated or deleted.
MappingListener = Callable[[Scope, str], None]


class ChangeHub:
    def __init__(self) -> None:
        self._function: list[FunctionListener] = []
        self._alias: list[AliasListener] = []
        self._policy: list[AttachmentListener] = []
        self._url: list[AttachmentListener] = []
        self._provisioned: list[ProvisionedListener] = []
        self._snapshot: list[SnapshotListener] = []
        self._snapshots_deleted: list[SnapshotsDeletedListener] = []
        self._mapping: list[MappingListener] = []
        self._scaling: list[ScalingListener] = []
        # Subscriptions happen at start-up; publishing copies the list, so a subscription
        # racing a publication is safe.
        self._lock = threading.Lock()

    def on_function_change(self, listener: FunctionListener) -> None:
        with self._lock:
            self._function.append(listener)

    def on_alias_change(self, listener: AliasListener) -> None:
        with self._lock:
            self._alias.append(listener)

    def on_policy_change(self, listener: AttachmentListener) -> None:
        with self._lock:
            self._policy.append(listener)

    def on_url_change(self, listener: AttachmentListener) -> None:
        with self._lock:
            self._url.append(listener)

    def on_provisioned_change(self, listener: ProvisionedListener) -> None:
        with self._lock:
            self._provisioned.append(listener)

    def on_snapshot_requested(self, listener: SnapshotListener) -> None:
        with self._lock:
            self._snapshot.append(listener)

    def on_snapshots_deleted(self, listener: SnapshotsDeletedListener) -> None:
        with self._lock:
            self._snapshots_deleted.append(listener)

    def on_mapping_change(self, listener: MappingListener) -> None:
        with self._lock:
            self._mapping.append(listener)

    def on_scaling_change(self, listener: ScalingListener) -> None:
        with self._lock:
            self._scaling.append(listener)

    def scaling_changed(
        self, scope: Scope, name: str, version: str, scaling: VersionScaling
    ) -> None:
        for listener in tuple(self._scaling):
            listener(scope, name, version, scaling)

    def mapping_changed(self, scope: Scope, uuid: str) -> None:
        for listener in tuple(self._mapping):
            listener(scope, uuid)

    def function_changed(self, scope: Scope, name: str, version: str | None) -> None:
        for listener in tuple(self._function):
            listener(scope, name, version)

    def alias_changed(self, scope: Scope, name: str, alias: str) -> None:
        for listener in tuple(self._alias):
            listener(scope, name, alias)

    def policy_changed(self, scope: Scope, name: str, qualifier: str | None) -> None:
        for listener in tuple(self._policy):
            listener(scope, name, qualifier)

    def url_changed(self, scope: Scope, name: str, qualifier: str | None) -> None:
        for listener in tuple(self._url):
            listener(scope, name, qualifier)

    def provisioned_changed(
        self, scope: Scope, name: str, qualifier: str, count: int | None
    ) -> None:
        for listener in tuple(self._provisioned):
            listener(scope, name, qualifier, count)

    def snapshot_requested(self, scope: Scope, name: str, version: str) -> None:
        for listener in tuple(self._snapshot):
            listener(scope, name, version)

    def snapshots_deleted(self, scope: Scope, name: str, versions: list[str]) -> None:
        if not versions:
            return
        for listener in tuple(self._snapshots_deleted):
            listener(scope, name, list(versions))
