"""Role checks as AWS makes them, once the operator has told lambdad about roles.

With no role declared (the default) any role of the caller's account is accepted.
After ``lambdad roles create``, CreateFunction and UpdateFunctionConfiguration with a
role that is not declared, or whose trust policy does not let lambda.amazonaws.com
assume it, answer AWS's 400 "The role defined for the function cannot be assumed by
Lambda."; a stack's ``AWS::IAM::Role`` declares its role with its trust policy and
removes it with the stack; another account is not checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.conftest import ServerFactory
from e2e.helpers import OTHER, PRIMARY, client_env, handler_zip, role_for, run_lambdad
from e2e.test_aws_exact import answer, invalid

APP = role_for(PRIMARY.account_id).replace("lambda-role", "app")
UNKNOWN = role_for(PRIMARY.account_id).replace("lambda-role", "unknown")
CANNOT = "The role defined for the function cannot be assumed by Lambda."
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TEMPLATE = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["lambda.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"],
                        }
                    ],
                }
            },
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"},
            },
        },
    }
}


def _create(client: Any, name: str, role: str) -> dict[str, Any]:
    out: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    return out


def test_declared_roles_are_checked_as_aws_checks_them(
    lambdad_factory: ServerFactory, tmp_path: Path
) -> None:
    server = lambdad_factory()
    client = server.client("lambda")
    env = client_env(server)
    data_dir = ("--data-dir", str(server.data_dir))

    def lambdad(command: str, *args: str, stdin: str | None = None) -> str:
        done = run_lambdad("roles", command, *data_dir, *args, env=env, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    # Nothing declared: any role of the account, as before.
    _create(client, "before", UNKNOWN)

    lambdad("create", APP)
    status, body = answer(lambda: _create(client, "unknown", UNKNOWN))
    assert (status, body) == (400, invalid(CANNOT))
    assert _create(client, "app", APP)["Role"] == APP
    status, body = answer(
        lambda: client.update_function_configuration(FunctionName="app", Role=UNKNOWN)
    )
    assert (status, body) == (400, invalid(CANNOT))
    # Another account declared nothing: not checked.
    other = server.client("lambda", account=OTHER.account_id)
    _create(other, "elsewhere", role_for(OTHER.account_id))

    # A trust policy that does not name Lambda: refused as well, noticed at once.
    lambdad("set-trust", APP, "-", stdin=json.dumps(EC2_TRUST))
    status, body = answer(
        lambda: client.update_function_configuration(FunctionName="app", Role=APP)
    )
    assert (status, body) == (400, invalid(CANNOT))
    assert json.loads(lambdad("ls"))[APP]["AssumeRolePolicyDocument"] == EC2_TRUST

    # A stack's role trusting Lambda is known while the stack exists.
    cfn = server.client("cloudformation")
    cfn.create_change_set(
        StackName="roles",
        ChangeSetName="one",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(TEMPLATE),
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.get_waiter("change_set_create_complete").wait(
        StackName="roles", ChangeSetName="one", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    cfn.execute_change_set(StackName="roles", ChangeSetName="one")
    cfn.get_waiter("stack_create_complete").wait(
        StackName="roles", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    resources = cfn.describe_stack_resources(StackName="roles")["StackResources"]
    fn = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "Fn")
    stack_role = client.get_function_configuration(FunctionName=fn)["Role"]
    assert json.loads(lambdad("ls"))[stack_role]["Stack"].startswith("arn:aws:cloudformation:")
    cfn.delete_stack(StackName="roles")
    cfn.get_waiter("stack_delete_complete").wait(
        StackName="roles", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    assert stack_role not in json.loads(lambdad("ls"))
    status, body = answer(lambda: _create(client, "after-stack", stack_role))
    assert (status, body) == (400, invalid(CANNOT))

    # Removing the declared role leaves nothing declared: every role again.
    lambdad("rm", APP)
    _create(client, "again", UNKNOWN)
