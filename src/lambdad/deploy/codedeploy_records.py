"""CodeDeploy's part of a stack, durable in the metadata store per account and region:
deployment groups and custom deployment configurations (what a template's
``AWS::CodeDeploy::*`` resources declare) and the deployments that shift an alias's
traffic, with their lifecycle hooks' statuses (reported through
``PutLifecycleEventHookExecutionStatus``, read by the running deployment)."""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Iterator

from lambdad.deploy.stack_records import Where
from lambdad.store.base import Doc, MetadataStore

GROUP = "codedeploy-group"
CONFIG = "codedeploy-config"
DEPLOYMENT = "codedeploy-deployment"
# Deployment statuses (CodeDeploy's names) a deployment ends in.
FINAL = frozenset({"Succeeded", "Failed", "Stopped"})
_ID = string.ascii_uppercase + string.digits


def new_deployment_id() -> str:
    return "d-" + "".join(secrets.choice(_ID) for _ in range(9))


class CodeDeployRecords:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        # Hook statuses are written by the API while a deployment's thread reads them.
        self._guard = threading.Lock()

    def put_group(self, where: Where, application: str, name: str, doc: Doc) -> None:
        self.store.put_child(GROUP, where.account, where.region, application, name, doc)

    def group(self, where: Where, application: str, name: str) -> Doc | None:
        return self.store.get_child(GROUP, where.account, where.region, application, name)

    def delete_group(self, where: Where, application: str, name: str) -> None:
        self.store.delete_child(GROUP, where.account, where.region, application, name)

    def put_config(self, where: Where, name: str, doc: Doc) -> None:
        self.store.put_child(CONFIG, where.account, where.region, "", name, doc)

    def config(self, where: Where, name: str) -> Doc | None:
        return self.store.get_child(CONFIG, where.account, where.region, "", name)

    def delete_config(self, where: Where, name: str) -> None:
        self.store.delete_child(CONFIG, where.account, where.region, "", name)

    def update_deployment(self, where: Where, deployment_id: str, **changes: object) -> Doc:
        """Change some of a deployment's fields (read again under the lock: the API
        writes its hooks' statuses meanwhile); the document as it now is."""
        with self._guard:
            doc = self.deployment(where, deployment_id) or {"deploymentId": deployment_id}
            doc.update(changes)
            self.store.put_child(DEPLOYMENT, where.account, where.region, "", deployment_id, doc)
            return doc

    def add_hook(self, where: Where, deployment_id: str, execution_id: str, hook: str) -> None:
        with self._guard:
            doc = self.deployment(where, deployment_id) or {"deploymentId": deployment_id}
            doc.setdefault("hooks", {})[execution_id] = {"hook": hook, "status": "Pending"}
            self.store.put_child(DEPLOYMENT, where.account, where.region, "", deployment_id, doc)

    def deployment(self, where: Where, deployment_id: str) -> Doc | None:
        return self.store.get_child(DEPLOYMENT, where.account, where.region, "", deployment_id)

    def report_hook(self, where: Where, deployment_id: str, execution_id: str, status: str) -> str:
        """Record a hook's result; what went wrong, as CodeDeploy's error code, or ''."""
        with self._guard:
            doc = self.deployment(where, deployment_id)
            if doc is None:
                return "DeploymentDoesNotExistException"
            hook = (doc.get("hooks") or {}).get(execution_id)
            if hook is None:
                return "InvalidLifecycleEventHookExecutionIdException"
            if hook["status"] != "Pending" or doc["status"] in FINAL:
                return "LifecycleEventAlreadyCompletedException"
            hook["status"] = status
            self.store.put_child(DEPLOYMENT, where.account, where.region, "", deployment_id, doc)
            return ""

    def unfinished(self) -> Iterator[tuple[Where, Doc]]:
        """Deployments an earlier run of the server left running."""
        for account, region, _, _, doc in self.store.all_children(DEPLOYMENT):
            if doc.get("status") not in FINAL:
                yield Where(account, region), doc
