"""Function resource policies: AddPermission, GetPolicy, RemovePermission, and the check
that lets another account invoke a function.

A function has one policy document per qualifier: the unqualified function (which
also covers ``$LATEST``), each published version and each alias. Statements are
kept as children of the function in the store (kind ``policy``, keyed by the
qualifier, ``""`` for the function itself). As on AWS, the ``RevisionId`` a policy
change is checked against, and which it renews, is the one of the version (for
the function: ``$LATEST``) or of the alias the policy belongs to.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lambdad.control.aliases import AliasService
from lambdad.control.function_config import PRECONDITION_MESSAGE
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lambdad.model import policy
from lambdad.model.arn import LATEST, function_arn, merge_qualifier
from lambdad.model.changes import ChangeHub
from lambdad.model.scope import Scope
from lambdad.store.base import Doc, MetadataStore

log = logging.getLogger(__name__)

KIND = "policy"
INVOKE = "lambda:InvokeFunction"
NOT_FOUND = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
ALIAS_PRECONDITION = (
    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API "
    "to retrieve the latest Revision Id"
)


def _key(qualifier: str | None) -> str:
    return "" if qualifier in (None, LATEST) else str(qualifier)


class PolicyService:
    def __init__(
        self,
        store: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        changes: ChangeHub,
    ) -> None:
        self.store = store
        self.functions = functions
        self.aliases = aliases
        self.changes = changes  # told of every policy change, once it is committed
        functions.on_change(self._version_changed)
        aliases.on_change(self._alias_changed)

    # -- the revision a policy is bound to ---------------------------------------------

    def _holder(self, scope: Scope, name: str, qualifier: str | None) -> tuple[str, Doc]:
        """(kind of holder, its document): the version or alias whose RevisionId counts."""
        if qualifier is None or qualifier == LATEST or qualifier.isdigit():
            version = qualifier or LATEST
            doc = self.store.get_version(scope.account, scope.region, name, version)
            if doc is None:
                raise self.functions.not_found(scope, name, qualifier)
            return "version", doc
        doc = self.aliases.get_doc(scope, name, qualifier)
        if doc is None:
            arn = function_arn(scope.region, scope.account, name, qualifier)
            raise ResourceNotFoundException(f"Cannot find alias arn: {arn}")
        return "alias", doc

    def _renew(self, scope: Scope, name: str, qualifier: str | None, kind: str, doc: Doc) -> None:
        doc["RevisionId"] = str(uuid.uuid4())
        if kind == "alias":
            assert qualifier is not None
            self.store.put_child("alias", scope.account, scope.region, name, qualifier, doc)
            return
        version = qualifier or LATEST
        self.store.put_version(scope.account, scope.region, name, version, doc)
        if version == LATEST:
            # $LATEST's environments are keyed by its revision: retire the stale ones.
            self.functions.changed(scope, name, LATEST)

    @staticmethod
    def _check_revision(kind: str, doc: Doc, revision: str | None) -> None:
        if revision is not None and revision != doc["RevisionId"]:
            raise PreconditionFailedException(
                ALIAS_PRECONDITION if kind == "alias" else PRECONDITION_MESSAGE
            )

    def _statements(self, scope: Scope, name: str, qualifier: str | None) -> list[dict[str, Any]]:
        doc = self.store.get_child(KIND, scope.account, scope.region, name, _key(qualifier))
        return list(doc["Statement"]) if doc else []

    def _save(
        self, scope: Scope, name: str, qualifier: str | None, statements: list[dict[str, Any]]
    ) -> None:
        key = _key(qualifier)
        if statements:
            self.store.put_child(
                KIND, scope.account, scope.region, name, key, {"Statement": statements}
            )
        else:
            self.store.delete_child(KIND, scope.account, scope.region, name, key)

    # -- operations ---------------------------------------------------------------------------

    def add_permission(self, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
        ref = self.functions.function_ref(scope, params["FunctionName"])
        qualifier = merge_qualifier(ref, params.get("Qualifier"))
        if qualifier == LATEST:
            raise InvalidParameterValueException(
                "We currently do not support adding policies for $LATEST."
            )
        name = ref.name
        self.functions.function_doc(scope, name)
        with self.store.transaction():
            try:
                kind, holder = self._holder(scope, name, qualifier)
            except ResourceNotFoundException:
                # A missing alias too: AWS names the qualified function, not the alias.
                raise self.functions.not_found(scope, name, qualifier) from None
            self._check_revision(kind, holder, params.get("RevisionId"))
            statements = self._statements(scope, name, qualifier)
            sid = params["StatementId"]
            if any(s.get("Sid") == sid for s in statements):
                raise ResourceConflictException(
                    f"The statement id ({sid}) provided already exists. Please provide a new "
                    "statement id, or remove the existing statement."
                )
            resource = function_arn(scope.region, scope.account, name, qualifier)
            statement = policy.function_statement(params, resource)
            statements.append(statement)
            policy.check_size(statements)
            self._save(scope, name, qualifier, statements)
            self._renew(scope, name, qualifier, kind, holder)
        self.changes.policy_changed(scope, name, qualifier)
        log.info("added statement %s to the policy of %s:%s", sid, name, qualifier or "")
        return {"Statement": policy.to_json(statement)}

    def get_policy(self, scope: Scope, function_name: str, qualifier: str | None) -> dict[str, Any]:
        ref = self.functions.function_ref(scope, function_name)
        qualifier = merge_qualifier(ref, qualifier)
        try:
            self.functions.function_doc(scope, ref.name)
            _, holder = self._holder(scope, ref.name, qualifier)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(NOT_FOUND) from None
        statements = self._statements(scope, ref.name, qualifier)
        if not statements:
            raise ResourceNotFoundException(NOT_FOUND)
        return {
            "Policy": policy.to_json(policy.document(statements)),
            "RevisionId": holder["RevisionId"],
        }

    def remove_permission(
        self,
        scope: Scope,
        function_name: str,
        sid: str,
        qualifier: str | None,
        revision: str | None,
    ) -> None:
        ref = self.functions.function_ref(scope, function_name)
        qualifier = merge_qualifier(ref, qualifier)
        name = ref.name
        if self.store.get_function(scope.account, scope.region, name) is None:
            raise ResourceNotFoundException(
                f"No policy found for: {function_arn(scope.region, scope.account, name)}"
            )
        with self.store.transaction():
            kind, holder = self._holder(scope, name, qualifier)
            statements = self._statements(scope, name, qualifier)
            if not statements:
                raise ResourceNotFoundException(NO_POLICY)
            if not any(s.get("Sid") == sid for s in statements):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            self._check_revision(kind, holder, revision)
            self._save(scope, name, qualifier, [s for s in statements if s.get("Sid") != sid])
            self._renew(scope, name, qualifier, kind, holder)
        self.changes.policy_changed(scope, name, qualifier)

    # -- enforcement ---------------------------------------------------------------------------

    def authorize(
        self,
        caller: Scope,
        owner: Scope,
        name: str,
        qualifier: str | None,
        action: str = INVOKE,
        principal_arn: str = "",
        caller_arn: str = "",
    ) -> None:
        """Allow ``caller`` to act on another account's function only if the policy of the
        qualifier it names says so; else AWS's AccessDeniedException. Whether the function
        exists is not revealed. ``principal_arn``: the caller's role, when it acts as one
        of its own roles (a function's execution role), matched besides its account;
        ``caller_arn``: who the refusal names, when not that (the role's session)."""
        own = None if qualifier in (None, LATEST) else qualifier
        request = policy.AccessRequest(
            action=action,
            resource=function_arn(owner.region, owner.account, name, own),
            account=caller.account,
            principal_arn=principal_arn,
            caller_arn=caller_arn,
        )
        if not policy.allows(self._statements(owner, name, qualifier), request):
            log.info("denied %s on %s to account %s", action, request.resource, caller.account)
            raise policy.access_denied(request)

    def allows_service(
        self,
        owner: Scope,
        name: str,
        qualifier: str | None,
        service: str,
        source_arn: str,
        action: str = INVOKE,
        source_account: str | None = None,
    ) -> bool:
        """Whether the policy of the qualifier named lets AWS ``service`` (a service
        principal such as ``events.amazonaws.com``) invoke the function on behalf of
        ``source_arn`` (a rule of ``owner``'s account, unless ``source_account`` names
        another), as a trigger asks before it fires. The request carries
        ``AWS:SourceArn`` and ``AWS:SourceAccount``."""
        own = None if qualifier in (None, LATEST) else qualifier
        request = policy.AccessRequest(
            action=action,
            resource=function_arn(owner.region, owner.account, name, own),
            # A service is no account: no account principal of a statement matches it.
            account=service,
            service=service,
            context={
                "AWS:SourceArn": source_arn,
                "AWS:SourceAccount": source_account or owner.account,
            },
        )
        return policy.allows(self._statements(owner, name, qualifier), request)

    # -- clean-up ------------------------------------------------------------------------------

    def _version_changed(self, scope: Scope, name: str, version: str | None) -> None:
        if version is None or version == LATEST:
            return  # a deleted function takes its children along
        if self.store.get_version(scope.account, scope.region, name, version) is None:
            self.store.delete_child(KIND, scope.account, scope.region, name, version)
            self.changes.policy_changed(scope, name, version)

    def _alias_changed(self, scope: Scope, name: str, alias: str) -> None:
        if self.aliases.get_doc(scope, name, alias) is None:
            self.store.delete_child(KIND, scope.account, scope.region, name, alias)
            self.changes.policy_changed(scope, name, alias)
