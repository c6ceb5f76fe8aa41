"""``lambdad roles``: the operator edits the roles' policies in the data directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lambdad.cli.main import main
from lambdad.model.role_policy import allows
from lambdad.store.roles import RolePolicies

ROLE = "arn:aws:iam::123456789012:role/runner"


def test_allow_deny_list_and_remove(tmp_path: Path) -> None:
    run = CliRunner().invoke
    dd = ["--data-dir", str(tmp_path)]
    assert run(main, ["roles", "allow", *dd, ROLE, "--action", "lambda:Get*"]).exit_code == 0
    deny = ["roles", "deny", *dd, ROLE, "--action", "lambda:GetPolicy"]
    assert run(main, deny).exit_code == 0
    policy = RolePolicies(tmp_path / "roles.json").policy_for(ROLE)
    assert allows(policy, "lambda:GetFunction", "*")
    assert not allows(policy, "lambda:GetPolicy", "*")
    assert not allows(policy, "lambda:InvokeFunction", "*")

    listed = json.loads(run(main, ["roles", "ls", *dd]).output)
    assert listed[ROLE]["Statement"][1]["Effect"] == "Deny"

    assert run(main, ["roles", "rm", *dd, ROLE]).exit_code == 0
    again = run(main, ["roles", "rm", *dd, ROLE])
    assert again.exit_code == 1
    assert "no policy" in again.output


def test_set_refuses_a_malformed_document(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        main, ["roles", "set", "--data-dir", str(tmp_path), ROLE, "-"], input='{"Statement": []}'
    )
    assert out.exit_code == 1
    assert "Statement" in out.output
