"""``lambdad deploy``: how long a SAM stack takes to create, to update after a code change
(the diff only), to find nothing to change, and to delete, beside the same resources
made directly through the API with boto3 (the baseline), same run.

The stack: a Python function from a local directory with an alias (AutoPublishAlias),
a function URL and a schedule (an EventBridge rule) — eight resources once SAM has
translated it. Each figure is the wall time of the ``lambdad`` command a user runs
(CLI start, zipping, upload, translation, plan, apply, outputs).

    python bench/deploy_stack.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      FunctionUrlConfig: {AuthType: NONE}
      Events:
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
"""
SOURCE = "def handler(event, context):\n    return {tag}\n"


def lambdad(env: dict[str, str], cwd: Path, *args: str) -> float:
    return c.timed_command([str(c.LAMBDAD), *args], env, cwd)


def by_hand(server: c.Server, name: str) -> float:
    """The same function, version, alias, URL, permissions and rule with boto3."""
    import boto3

    events = boto3.client(
        "events", endpoint_url=server.endpoint, region_name=c.REGION,
        aws_access_key_id=c.AKID, aws_secret_access_key=c.SECRET,
    )  # fmt: skip
    lam = server.client
    started = time.monotonic()
    server.create(name, source=SOURCE.format(tag=0))
    version = lam.publish_version(FunctionName=name)["Version"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)["AliasArn"]
    lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="url",
                       Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")  # fmt: skip
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="url-invoke",
                       Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)  # fmt: skip
    rule = events.put_rule(Name=name, ScheduleExpression="rate(1 day)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": alias}])
    lam.add_permission(FunctionName=name, Qualifier="live", StatementId="rule",
                       Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
                       SourceArn=rule)  # fmt: skip
    elapsed = (time.monotonic() - started) * 1000
    events.remove_targets(Rule=name, Ids=["t"])
    events.delete_rule(Name=name)
    lam.delete_function(FunctionName=name)
    return elapsed


def main() -> int:
    args = c.parse_args(1, 5)
    n = args.n

    server = c.Server({}).start()
    env = c.cli_env(AWS_ENDPOINT_URL=server.endpoint)
    labels = ("deploy (create)", "deploy (code change)", "deploy (no change)", "delete-stack")
    times: dict[str, list[float]] = {label: [] for label in (*labels, "by hand (create)")}
    try:
        for i in range(n):
            directory = c.sam_project("lambdad-deploy-", TEMPLATE, SOURCE.format(tag=1))
            stack = f"bench-{i}"
            times[labels[0]].append(lambdad(env, directory, "deploy", "--stack-name", stack))
            (directory / "src" / "app.py").write_text(SOURCE.format(tag=2))
            times[labels[1]].append(lambdad(env, directory, "deploy", "--stack-name", stack))
            times[labels[2]].append(lambdad(env, directory, "deploy", "--stack-name", stack))
            times[labels[3]].append(lambdad(env, directory, "delete-stack", stack))
            times["by hand (create)"].append(by_hand(server, f"hand-{i}"))
        rows = {label: c.summary(values) for label, values in times.items()}
    finally:
        server.stop()
    c.print_rows(f"a SAM stack of 8 resources, {n} rounds", rows)
    c.write_rows("deploy_stack", args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
