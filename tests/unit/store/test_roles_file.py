"""The operator's roles.json: read on change, the default for roles it does not name,
nothing at all while it is broken."""

from __future__ import annotations

import os
from pathlib import Path

from lambdad.model.role_policy import DEFAULT, allows, from_document
from lambdad.store.roles import RolePolicies, load, save

ROLE = "arn:aws:iam::123456789012:role/runner"


def test_missing_file_means_default(tmp_path: Path) -> None:
    assert RolePolicies(tmp_path / "roles.json").policy_for(ROLE) == DEFAULT


def test_saved_policies_are_read_and_changes_noticed(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    policies = RolePolicies(path)
    narrow = from_document([{"Action": "lambda:GetFunction", "Resource": "*"}])
    save(path, {ROLE: narrow})
    assert load(path) == {ROLE: narrow}
    assert path.stat().st_mode & 0o777 == 0o600
    assert policies.policy_for(ROLE) == narrow
    assert policies.policy_for(ROLE.replace("runner", "other")) == DEFAULT
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))
    broken = policies.policy_for("arn:aws:iam::123456789012:role/other")
    assert not allows(broken, "lambda:GetFunction", "*")
