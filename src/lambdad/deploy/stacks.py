"""The stack service: change sets planned from a template, executed by the executor,
stacks described, deleted and listed. Blocking (it waits for the resources it applies):
the API adapter runs it off the event loop.

A change set keeps the template and parameter values it was made with; executing it
plans again against the stack's deployment as it is then, and applies that plan.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lambdad.deploy import sam, template
from lambdad.deploy.errors import (
    ApplyFailed,
    ChangeSetNotFound,
    InsufficientCapabilities,
    ValidationError,
)
from lambdad.deploy.executor import delete_all, execute
from lambdad.deploy.handlers import Env, Handler
from lambdad.deploy.parameters import StackIdentity
from lambdad.deploy.plan import Action, Plan, plan
from lambdad.deploy.records import ResourceRecord
from lambdad.deploy.registry import HANDLERS
from lambdad.deploy.stack_records import StackRecords, Where, add_event, deployment, now_iso
from lambdad.store.base import Doc

# A capability (beyond AWS's) that asks the planner to skip the resource types lambdad
# does not serve, listing them, instead of refusing the template.
SKIP_UNSUPPORTED = "LAMBDAD_SKIP_UNSUPPORTED"
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to "
    "create a change set."
)

# Seconds an operation waits for another on the same stack before it is refused.
BUSY_WAIT = 10.0
# CreateChangeSet runs on the API's small pool of quick calls: it waits this long at most
# for a stack another operation holds, so a stack mid-deployment never stalls the pool.
QUICK_WAIT = 0.5
_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
# The environment a plan is applied in, for the stack (the caller's API clients).
EnvFor = Callable[[StackIdentity], Env]


class StackService:
    def __init__(
        self,
        records: StackRecords,
        now: Callable[[], float],
        handlers: Mapping[str, Handler] = HANDLERS,
        read_url: Callable[[Where, str], str] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.records = records
        # Types this server cannot apply (no SNS endpoint configured...), with why.
        self.unavailable = dict(unavailable or {})
        self.now = now
        self.handlers = handlers
        # Reads a TemplateURL for the account (None: only TemplateBody is taken).
        self.read_url = read_url
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, where: Where, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((where.account, where.region, name), threading.Lock())

    @contextlib.contextmanager
    def _held(self, where: Where, name: str, wait: float | None = None) -> Iterator[None]:
        """The stack's lock; while another operation holds it (an update waiting for
        an alias's traffic shift holds it for minutes), refused as AWS refuses it."""
        lock = self._lock(where, name)
        if not lock.acquire(timeout=BUSY_WAIT if wait is None else wait):
            doc = self.records.get(where, name)
            status = doc["StackStatus"] if doc is not None else "UPDATE_IN_PROGRESS"
            arn = doc["StackId"] if doc is not None else name
            raise ValidationError(f"Stack:{arn} is in {status} state and can not be updated.")
        try:
            yield
        finally:
            lock.release()

    def stack(self, where: Where, name_or_id: str) -> Doc:
        doc = self.records.get(where, name_or_id)
        if doc is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return doc

    def create_change_set(self, where: Where, p: Mapping[str, Any]) -> Doc:
        stack_name, name = p["StackName"], p["ChangeSetName"]
        kind = p.get("ChangeSetType") or "UPDATE"
        body = p.get("TemplateBody")
        if not body and p.get("TemplateURL") and self.read_url is not None:
            body = self.read_url(where, p["TemplateURL"])
        if not body:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        for what, value in (("stackName", stack_name), ("changeSetName", name)):
            if not _NAME.fullmatch(value):
                raise ValidationError(
                    f"1 validation error detected: Value '{value[:128]}' at '{what}' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: "
                    "[a-zA-Z][-a-zA-Z0-9]* and length at most 128"
                )
        with self._held(where, stack_name, QUICK_WAIT):
            doc = self.records.get(where, stack_name)
            if kind == "CREATE":
                if doc is not None and doc["StackStatus"] != "REVIEW_IN_PROGRESS":
                    raise ValidationError(
                        f"Stack [{stack_name}] already exists and cannot be created again "
                        f"with the changeSet [{name}]."
                    )
            elif doc is None or doc["StackStatus"] == "REVIEW_IN_PROGRESS":
                raise ValidationError(f"Stack [{stack_name}] does not exist")
            if doc is not None and self.records.change_set(where, stack_name, name):
                raise ValidationError(f"ChangeSet [{name}] already exists")
            if doc is None:
                doc = {
                    "StackId": where.stack_arn(stack_name),
                    "StackName": stack_name,
                    "StackStatus": "REVIEW_IN_PROGRESS",
                    "CreationTime": now_iso(self.now()),
                    "Resources": [],
                    "Events": [],
                }
                # As AWS: the stack's first event (SAM CLI reads it as "since when").
                self._status(doc, "REVIEW_IN_PROGRESS", "User Initiated")
            given = _given(p.get("Parameters") or [], doc)
            change_set = {
                "ChangeSetId": where.change_set_arn(name),
                "ChangeSetName": name,
                "StackId": doc["StackId"],
                "StackName": stack_name,
                "ChangeSetType": kind,
                "CreationTime": now_iso(self.now()),
                "Description": p.get("Description"),
                "TemplateBody": body,
                "Parameters": given,
                "Capabilities": list(p.get("Capabilities") or []),
                "Tags": list(p.get("Tags") or []),
                "ExecutionStatus": "AVAILABLE",
                "Status": "CREATE_COMPLETE",
            }
            the_plan, _ = self._plan(where, doc, change_set)
            declared = template.parse_body(body).get("Parameters") or {}
            change_set["NoEcho"] = sorted(
                k for k, spec in declared.items() if isinstance(spec, dict) and spec.get("NoEcho")
            )
            change_set["Changes"] = _changes(the_plan)
            if the_plan.skipped:
                listed = "; ".join(f"{k} ({why})" for k, why in the_plan.skipped.items())
                change_set["StatusReason"] = f"Skipped, not supported by lambdad: {listed}"
            if not change_set["Changes"]:
                change_set.update(
                    Status="FAILED", ExecutionStatus="UNAVAILABLE", StatusReason=NO_CHANGES
                )
            # The stack exists (REVIEW_IN_PROGRESS until executed) once a plan of it does.
            self.records.put(where, doc)
            self.records.put_change_set(where, change_set)
            return change_set

    def _plan(self, where: Where, doc: Doc, change_set: Doc) -> tuple[Plan, dict[str, Any]]:
        try:
            return self._plan_or_raise(where, doc, change_set)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
            # A template of the wrong shapes where the reader does not look (a list where
            # an object goes, a number as a name): refused, as AWS refuses it.
            raise ValidationError(f"Template format error: {type(exc).__name__}: {exc}") from None

    def _plan_or_raise(
        self, where: Where, doc: Doc, change_set: Doc
    ) -> tuple[Plan, dict[str, Any]]:
        identity = StackIdentity(where.account, where.region, doc["StackName"], doc["StackId"])
        body = template.parse_body(change_set["TemplateBody"])
        given = change_set["Parameters"]
        processed = sam.translate(body, given, identity) if template.is_sam(body) else body
        capabilities = change_set.get("Capabilities", [])
        read = template.read(processed)
        _check_capabilities(read, capabilities)
        skip = SKIP_UNSUPPORTED in capabilities
        return (
            plan(
                read,
                given,
                identity,
                deployment(doc),
                skip_unsupported=skip,
                unavailable=self.unavailable,
            ),
            processed,
        )

    def describe_change_set(self, where: Where, stack: str | None, name: str) -> Doc:
        found = self.records.change_set(where, stack, name)
        if found is None:
            raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")
        return found

    def execute_change_set(
        self, where: Where, stack: str | None, name: str, env_for: EnvFor
    ) -> Doc:
        found = self.describe_change_set(where, stack, name)
        with self._held(where, found["StackName"]):
            change_set = self.describe_change_set(where, found["StackName"], name)
            if change_set["ExecutionStatus"] != "AVAILABLE":
                raise ValidationError(
                    f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current "
                    f"status of [{change_set['Status']}]"
                )
            doc = self.stack(where, change_set["StackId"])
            creating = doc["StackStatus"] == "REVIEW_IN_PROGRESS"
            verb = "CREATE" if creating else "UPDATE"
            the_plan, processed = self._plan(where, doc, change_set)
            self._status(doc, f"{verb}_IN_PROGRESS", "User Initiated")
            self.records.put(where, doc)
            identity = StackIdentity(where.account, where.region, doc["StackName"], doc["StackId"])
            env = env_for(identity)
            before = list(doc.get("Resources") or [])

            def keep(records: list[ResourceRecord]) -> None:
                doc["Resources"] = [r.as_doc() for r in records]
                self.records.put(where, doc)

            try:
                result = execute(
                    the_plan, deployment(doc), env, self.handlers, self._reporter(where, doc), keep
                )
            except ApplyFailed as exc:
                doc["Resources"] = before + [r.as_doc() for r in exc.stranded]
                rolled = "ROLLBACK" if creating else "UPDATE_ROLLBACK"
                rolled += "_FAILED" if exc.stranded else "_COMPLETE"
                self._status(
                    doc,
                    rolled,
                    f"The following resource(s) failed: [{exc.logical_id}]. {exc.reason}",
                )
                change_set["ExecutionStatus"] = "EXECUTE_FAILED"
                self.records.put_change_set(where, change_set)
                self.records.put(where, doc)
                return doc
            doc["Resources"] = [r.as_doc() for r in result.deployment.values()]
            doc["Outputs"] = [
                {"OutputKey": k, "OutputValue": _text(v), **({"Description": d} if d else {})}
                for k, (v, d) in result.outputs.items()
            ]
            doc.update(
                TemplateBody=change_set["TemplateBody"],
                ProcessedTemplate=processed,
                Parameters=change_set["Parameters"],
                NoEcho=change_set.get("NoEcho", []),
                Capabilities=change_set["Capabilities"],
                Tags=change_set.get("Tags") or [],
                Description=processed.get("Description"),
                Skipped=dict(the_plan.skipped),
            )
            if not creating:
                doc["LastUpdatedTime"] = now_iso(self.now())
            self._status(doc, f"{verb}_COMPLETE", "")
            for key, _ in self.records.change_sets(where, doc["StackName"]):
                self.records.delete_change_set(where, doc["StackName"], key)
            self.records.put(where, doc)
            return doc

    def delete_stack(self, where: Where, name_or_id: str, env_for: EnvFor) -> None:
        doc = self.records.get(where, name_or_id)
        if doc is None:
            return  # AWS: deleting a stack that does not exist succeeds
        with self._held(where, doc["StackName"]):
            self._status(doc, "DELETE_IN_PROGRESS", "User Initiated")
            self.records.put(where, doc)
            identity = StackIdentity(where.account, where.region, doc["StackName"], doc["StackId"])
            left = delete_all(
                deployment(doc), env_for(identity), self.handlers, self._reporter(where, doc)
            )
            if left:
                doc["Resources"] = [r.as_doc() for r in left]
                self._status(
                    doc, "DELETE_FAILED", f"could not delete {[r.logical_id for r in left]}"
                )
                self.records.put(where, doc)
                return
            self.records.delete(where, doc["StackName"])
            self.records.put_deleted(where, doc, self.now())

    def recover(self) -> list[str]:
        """At start-up: stacks an earlier run left in progress (it stopped half-way)
        are marked failed, with the resources it recorded, so that deploying again or
        deleting the stack finishes the work. Their names."""
        found = []
        for verb in ("CREATE", "UPDATE", "DELETE"):
            for account, region, doc in self.records.in_status(f"{verb}_IN_PROGRESS"):
                self._status(doc, f"{verb}_FAILED", "lambdad stopped during the operation")
                self.records.put(Where(account, region), doc)
                found.append(doc["StackName"])
        return found

    def _status(self, doc: Doc, status: str, reason: str) -> None:
        doc["StackStatus"] = status
        if reason:
            doc["StackStatusReason"] = reason
        else:
            doc.pop("StackStatusReason", None)
        add_event(
            doc,
            self.now(),
            doc["StackName"],
            "AWS::CloudFormation::Stack",
            doc["StackId"],
            status,
            reason,
        )

    def _reporter(self, where: Where, doc: Doc) -> Callable[[str, str, str, str, str], None]:
        # Each event is kept as it happens: DescribeStackEvents follows a deployment.
        def report(logical_id: str, type_: str, physical: str, status: str, reason: str) -> None:
            add_event(doc, self.now(), logical_id, type_, physical, status, reason)
            self.records.put(where, doc)

        return report


_IAM = ("AWS::IAM::",)


def _check_capabilities(read: template.Template, capabilities: list[str]) -> None:
    """As AWS: a template that makes IAM resources needs CAPABILITY_IAM, one that names
    them CAPABILITY_NAMED_IAM (the caller acknowledges it)."""
    iam = [r for r in read.resources.values() if r.type.startswith(_IAM)]
    if not iam:
        return
    named = any("RoleName" in r.properties or "UserName" in r.properties for r in iam)
    needed = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
    if "CAPABILITY_NAMED_IAM" in capabilities or (not named and needed in capabilities):
        return
    raise InsufficientCapabilities(f"Requires capabilities : [{needed}]")


def _given(members: list[dict[str, Any]], stack: Doc) -> dict[str, str]:
    previous = stack.get("Parameters") or {}
    out: dict[str, str] = {}
    for m in members:
        key = m.get("ParameterKey")
        if not key:
            continue
        if m.get("UsePreviousValue"):
            if key not in previous:
                raise ValidationError(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                    "as true for a parameter key not in the previous template"
                )
            out[key] = previous[key]
        elif "ParameterValue" in m:
            out[key] = str(m["ParameterValue"])
    return out


def _changes(the_plan: Plan) -> list[dict[str, Any]]:
    out = []
    replaced = {s.logical_id for s in the_plan.steps if s.action is Action.REPLACE}
    for step in the_plan.changes:
        if step.action is Action.DELETE and step.logical_id in replaced:
            continue
        change: dict[str, Any] = {
            "Action": "Modify" if step.action is Action.REPLACE else step.action.value,
            "LogicalResourceId": step.logical_id,
            "ResourceType": step.type,
        }
        if step.previous is not None:
            change["PhysicalResourceId"] = step.previous.physical_id
        if step.action in (Action.UPDATE, Action.REPLACE):
            change["Replacement"] = "True" if step.action is Action.REPLACE else "False"
        out.append({"Type": "Resource", "ResourceChange": change})
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
