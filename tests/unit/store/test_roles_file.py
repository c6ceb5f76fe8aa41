"""The operator's roles.json: read on change, the default for roles it does not name,
nothing at all while it is broken."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lambdad.model.role_policy import DEFAULT, allows, from_document
from lambdad.model.role_trust import LAMBDA_TRUST, Role, trust_text
from lambdad.store.roles import RolePolicies, StackRoles, load, save

ROLE = "arn:aws:iam::123456789012:role/runner"


def test_missing_file_means_default(tmp_path: Path) -> None:
    assert RolePolicies(tmp_path / "roles.json").policy_for(ROLE) == DEFAULT


def test_saved_policies_are_read_and_changes_noticed(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    policies = RolePolicies(path)
    narrow = from_document([{"Action": "lambda:GetFunction", "Resource": "*"}])
    save(path, {ROLE: Role(narrow)})
    assert load(path) == {ROLE: Role(narrow)}
    assert path.stat().st_mode & 0o777 == 0o600
    assert policies.policy_for(ROLE) == narrow
    assert policies.policy_for(ROLE.replace("runner", "other")) == DEFAULT
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))
    broken = policies.policy_for("arn:aws:iam::123456789012:role/other")
    assert not allows(broken, "lambda:GetFunction", "*")


def test_trust_policies_round_trip_and_decide_what_lambda_may_assume(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    roles = RolePolicies(path)
    assert roles.assumable(ROLE)
    save(path, {ROLE: Role(trust=trust_text(LAMBDA_TRUST))})
    entry = json.loads(path.read_text())[ROLE]
    assert entry == {"AssumeRolePolicyDocument": LAMBDA_TRUST}
    assert roles.policy_for(ROLE) == DEFAULT
    assert roles.assumable(ROLE)
    assert not roles.assumable(ROLE.replace("runner", "unknown"))
    path.write_text("[]")
    os.utime(path, ns=(2, 2))
    assert not roles.assumable(ROLE)


def test_a_stack_declares_and_forgets_only_its_own_roles(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    stacks = StackRoles(path)
    stacks.declare(ROLE, LAMBDA_TRUST, "stack-1")
    assert load(path)[ROLE] == Role(trust=trust_text(LAMBDA_TRUST), stack="stack-1")
    with pytest.raises(ValueError, match="already exists"):
        stacks.declare(ROLE, LAMBDA_TRUST, "stack-2")
    stacks.forget(ROLE, "stack-2")
    assert ROLE in load(path)
    stacks.forget(ROLE, "stack-1")
    stacks.forget(ROLE, "stack-1")
    assert load(path) == {}
    save(path, {ROLE: Role()})
    with pytest.raises(ValueError, match="already exists"):
        stacks.declare(ROLE, LAMBDA_TRUST, "stack-1")
    with pytest.raises(ValueError, match="Principal"):
        stacks.declare(ROLE + "2", {"Statement": [{"Action": "sts:AssumeRole"}]}, "stack-1")
