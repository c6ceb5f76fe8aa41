"""Schedule groups: Create/Get/Delete/ListScheduleGroups and the tags a group carries
(Scheduler tags groups only). The ``default`` group always exists and cannot be
deleted; deleting another group deletes its schedules with it, as on AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdad.clock import Clock
from lambdad.errors import ValidationException
from lambdad.events.scheduler.errors import ConflictException, group_not_found
from lambdad.events.scheduler.store import DEFAULT_GROUP, SchedulerStore
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

Params = dict[str, Any]
LIST_LIMIT = 100


def group_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:scheduler:{scope.region}:{scope.account}:schedule-group/{name}"


def _summary(scope: Scope, name: str, doc: Doc) -> dict[str, Any]:
    return {
        "Arn": group_arn(scope, name),
        "Name": name,
        "State": "ACTIVE",
        "CreationDate": doc["CreationDate"],
        "LastModificationDate": doc["LastModificationDate"],
    }


class GroupService:
    def __init__(
        self,
        store: SchedulerStore,
        clock: Clock,
        drop_schedules: Callable[[Scope, str], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.drop_schedules = drop_schedules

    def group_doc(self, scope: Scope, name: str | None) -> tuple[str, Doc]:
        """The group a request names (``default`` when it names none), or 404."""
        name = name or DEFAULT_GROUP
        doc = self.store.get_group(scope, name)
        if doc is None and name == DEFAULT_GROUP:
            doc = self._new_doc([])
            self.store.put_group(scope, name, doc)
        if doc is None:
            raise group_not_found(name)
        return name, doc

    def _new_doc(self, tags: list[dict[str, str]]) -> Doc:
        now = self.clock.now().timestamp()
        return {"CreationDate": now, "LastModificationDate": now, "Tags": tags}

    async def create_schedule_group(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = p["Name"]
        if name == DEFAULT_GROUP or self.store.get_group(scope, name) is not None:
            raise ConflictException(f"Schedule group {name} already exists.")
        self.store.put_group(scope, name, self._new_doc(list(p.get("Tags") or [])))
        return {"ScheduleGroupArn": group_arn(scope, name)}

    async def get_schedule_group(self, scope: Scope, p: Params) -> dict[str, Any]:
        name, doc = self.group_doc(scope, p["Name"])
        return _summary(scope, name, doc)

    async def delete_schedule_group(self, scope: Scope, p: Params) -> dict[str, Any]:
        name = p["Name"]
        if name == DEFAULT_GROUP:
            raise ValidationException("Cannot delete the default schedule group.")
        self.group_doc(scope, name)
        self.drop_schedules(scope, name)
        self.store.delete_group(scope, name)
        return {}

    async def list_schedule_groups(self, scope: Scope, p: Params) -> dict[str, Any]:
        self.group_doc(scope, DEFAULT_GROUP)
        prefix = p.get("NamePrefix") or ""
        after = p.get("NextToken") or ""
        groups = sorted(
            (name, doc)
            for name, doc in self.store.list_groups(scope)
            if name.startswith(prefix) and name > after
        )
        limit = p.get("MaxResults") or LIST_LIMIT
        out: dict[str, Any] = {"ScheduleGroups": [_summary(scope, n, d) for n, d in groups[:limit]]}
        if len(groups) > limit:
            out["NextToken"] = groups[limit - 1][0]
        return out

    # -- tags (groups only) ----------------------------------------------------------------

    def _tagged(self, scope: Scope, arn: str) -> tuple[str, Doc]:
        prefix = group_arn(scope, "")
        if not arn.startswith(prefix):
            raise ValidationException(f"Invalid ResourceArn {arn}.")
        return self.group_doc(scope, arn[len(prefix) :])

    async def list_tags_for_resource(self, scope: Scope, p: Params) -> dict[str, Any]:
        _, doc = self._tagged(scope, p["ResourceArn"])
        return {"Tags": doc.get("Tags", [])}

    async def tag_resource(self, scope: Scope, p: Params) -> dict[str, Any]:
        name, doc = self._tagged(scope, p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in doc.get("Tags", [])}
        tags.update({t["Key"]: t["Value"] for t in p["Tags"]})
        doc["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        self.store.put_group(scope, name, doc)
        return {}

    async def untag_resource(self, scope: Scope, p: Params) -> dict[str, Any]:
        name, doc = self._tagged(scope, p["ResourceArn"])
        gone = set(p["TagKeys"])
        doc["Tags"] = [t for t in doc.get("Tags", []) if t["Key"] not in gone]
        self.store.put_group(scope, name, doc)
        return {}
