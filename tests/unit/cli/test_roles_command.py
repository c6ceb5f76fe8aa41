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
    assert "no role" in again.output


def test_set_refuses_a_malformed_document(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        main, ["roles", "set", "--data-dir", str(tmp_path), ROLE, "-"], input='{"Statement": []}'
    )
    assert out.exit_code == 1
    assert "Statement" in out.output


def test_create_and_set_trust(tmp_path: Path) -> None:
    run = CliRunner().invoke
    dd = ["--data-dir", str(tmp_path)]
    roles = RolePolicies(tmp_path / "roles.json")
    assert run(main, ["roles", "allow", *dd, ROLE, "--action", "lambda:Get*"]).exit_code == 0
    assert roles.assumable(ROLE.replace("runner", "anyone"))
    assert run(main, ["roles", "create", *dd, ROLE]).exit_code == 0
    assert allows(roles.policy_for(ROLE), "lambda:GetFunction", "*")
    assert roles.assumable(ROLE)
    assert not roles.assumable(ROLE.replace("runner", "anyone"))
    twice = run(main, ["roles", "create", *dd, ROLE])
    assert twice.exit_code == 1
    assert "already exists" in twice.output
    ec2 = {
        "Statement": {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    }
    out = run(main, ["roles", "set-trust", *dd, ROLE, "-"], input=json.dumps(ec2))
    assert out.exit_code == 0
    assert not roles.assumable(ROLE)
    listed = json.loads(run(main, ["roles", "ls", *dd]).output)
    assert listed[ROLE]["AssumeRolePolicyDocument"] == ec2
    bad = run(main, ["roles", "create", *dd, ROLE + "2", "--trust-policy", "-"], input="{}")
    assert bad.exit_code == 1
    assert "Statement" in bad.output


def test_a_data_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    # Run away from where `lambdad serve` ran, a new ./.lambdad would change nothing.
    missing = ["--data-dir", str(tmp_path / ".lambdad")]
    for args in (
        ["roles", "create", *missing, ROLE],
        ["roles", "allow", *missing, ROLE, "--action", "lambda:Get*"],
        ["roles", "upstream", *missing, ROLE, "s3", "--access-key-id", "AKIAEXAMPLE"],
        ["roles", "upstream-ls", *missing],
    ):
        out = CliRunner().invoke(main, args, input="secret\n")
        assert out.exit_code == 1, (args, out.output)
        assert f"no data directory at {tmp_path / '.lambdad'}" in out.output
    assert not (tmp_path / ".lambdad").exists()


def test_upstream_set_list_and_remove(tmp_path: Path) -> None:
    run = CliRunner().invoke
    dd = ["--data-dir", str(tmp_path)]
    for service in ("s3", "dynamodb"):
        args = ["roles", "upstream", *dd, ROLE, service, "--access-key-id", f"AKIA{service}"]
        assert run(main, args, input="secret\n").exit_code == 0
    listed = run(main, ["roles", "upstream-ls", *dd]).output.split()
    assert listed == [ROLE, "dynamodb", "AKIAdynamodb", ROLE, "s3", "AKIAs3"]
    saved = (tmp_path / "upstream.json").read_text()
    missing = run(main, ["roles", "upstream-rm", *dd, ROLE, "sqs"])
    assert missing.exit_code == 1
    assert "no upstream credentials" in missing.output
    assert (tmp_path / "upstream.json").read_text() == saved
    assert run(main, ["roles", "upstream-rm", *dd, ROLE, "s3"]).exit_code == 0
    assert run(main, ["roles", "upstream-ls", *dd]).output.split() == [ROLE, "dynamodb",
                                                                       "AKIAdynamodb"]  # fmt: skip
