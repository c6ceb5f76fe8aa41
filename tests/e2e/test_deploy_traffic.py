"""SAM's ``DeploymentPreference`` through ``aws cloudformation deploy``: an update of a
function with ``AutoPublishAlias`` shifts the alias's traffic as CodeDeploy does
(GetAlias shows the canary's 10% on the new version, then all of it), after the
PreTraffic hook function reported Succeeded through CodeDeploy's
PutLifecycleEventHookExecutionStatus; an update whose new version raises errors sets
off the group's CloudWatch alarm mid-canary: the deployment stops and the alias rolls
back (SAM's group turns automatic rollback on). A deployment
cut short by a server's death is rolled back when the server starts again.

Deployment time is scaled (LAMBDAD_DEPLOYMENT_TIME_SCALE=0.02: the 5-minute canary
lasts 6 s), and alarms are evaluated every 0.2 s instead of every minute.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from e2e.conftest import ServerFactory
from e2e.helpers import AWS_CLI, LambdadServer

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            if "WORD" == "broken":
                raise RuntimeError("broken")
            return "WORD"
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref Errors]
        Hooks: {PreTraffic: !Ref PreTraffic}
  PreTraffic:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        import boto3
        def handler(event, context):
            boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
                deploymentId=event["DeploymentId"],
                lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
                status="Succeeded")
      Policies:
        - Version: '2012-10-17'
          Statement:
            - Effect: Allow
              Action: codedeploy:PutLifecycleEventHookExecutionStatus
              Resource: '*'
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Ref Fn}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
Outputs:
  Name: {Value: !Ref Fn}
"""


def _deploy(server: LambdadServer, path: Path, stack: str, word: str) -> subprocess.Popen[str]:
    """Deploys the function answering ``word`` (a code change: SAM publishes a version)."""
    path.write_text(TEMPLATE.replace("WORD", word))
    cmd = [AWS_CLI, "cloudformation", "deploy", "--template-file", str(path),
           "--stack-name", stack, "--capabilities", "CAPABILITY_IAM",
           "--endpoint-url", server.endpoint, "--region", server.region]  # fmt: skip
    return subprocess.Popen(
        cmd, env=server.aws_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _shifting(lam: Any, name: str, deploy: subprocess.Popen[str]) -> dict[str, Any]:
    """The alias as GetAlias shows it once traffic starts moving."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and deploy.poll() is None:
        alias = lam.get_alias(FunctionName=name, Name="live")
        if alias.get("RoutingConfig"):
            return dict(alias)
        time.sleep(0.05)
    raise AssertionError(f"no traffic shift seen: {deploy.communicate(timeout=120)[0]}")


def test_deployment_preference_shifts_traffic_and_rolls_back_on_alarm(
    tmp_path: Path, lambdad_factory: ServerFactory
) -> None:
    server = lambdad_factory(env={
        "LAMBDAD_SANDBOX": "process",
        "LAMBDAD_DEPLOYMENT_TIME_SCALE": "0.02",
        "LAMBDAD_METRICS_ALARM_INTERVAL": "0.2",
        "LAMBDAD_METRICS_FLUSH_INTERVAL": "0.2",
    })  # fmt: skip
    path = tmp_path / "template.yaml"
    stack = "canary"
    first = _deploy(server, path, stack, "one")
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out
    cfn, lam = server.client("cloudformation"), server.client("lambda")
    name = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"

    # An update: 10% of the alias's traffic on the new version for the canary's
    # (scaled) 5 minutes, the old version still the alias's own; then all of it.
    update = _deploy(server, path, stack, "two")
    alias = _shifting(lam, name, update)
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    out, _ = update.communicate(timeout=120)
    assert update.returncode == 0, out
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert (alias["FunctionVersion"], alias.get("RoutingConfig")) == ("2", None)
    answer = lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read()
    assert json.loads(answer) == "two"
    cw = server.client("cloudwatch")
    (alarm,) = cw.describe_alarms()["MetricAlarms"]
    assert alarm["StateValue"] != "ALARM"

    # The server killed mid-canary: at the next start the deployment is rolled back
    # (the alias on version 2 alone) and the stack marked failed.
    interrupted = _deploy(server, path, stack, "three")
    assert _shifting(lam, name, interrupted)["RoutingConfig"] == {
        "AdditionalVersionWeights": {"3": 0.1}
    }
    server.kill()
    interrupted.communicate(timeout=120)
    server.start()
    cfn, lam = server.client("cloudformation"), server.client("lambda")
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert (alias["FunctionVersion"], alias.get("RoutingConfig")) == ("2", None)
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_FAILED"
    cw = server.client("cloudwatch")

    # A broken update: while the canary runs, its errors set the alarm off; the
    # deployment stops, the alias goes back to version 2 alone, the stack rolls back.
    broken = _deploy(server, path, stack, "broken")
    alias = _shifting(lam, name, broken)
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"4": 0.1}}
    failed = lam.invoke(FunctionName=name, Qualifier="4")
    assert failed["FunctionError"] == "Unhandled"
    out, _ = broken.communicate(timeout=120)
    assert broken.returncode != 0, out
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert (alias["FunctionVersion"], alias.get("RoutingConfig")) == ("2", None)
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(
        StackName=stack)["StackEvents"]]  # fmt: skip
    assert any("alarm(s) in ALARM state: " + alarm["AlarmName"] in r for r in reasons), reasons
    # CodeDeploy's record of it: stopped by the alarm, rolled back as SAM's group says.
    reason = next(r for r in reasons if "alarm(s) in ALARM state" in r)
    deployment_id = reason.split("CodeDeploy deployment ", 1)[1].split()[0]
    info = server.client("codedeploy").get_deployment(deploymentId=deployment_id)
    info = info["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "ALARM_ACTIVE")
    assert info["autoRollbackConfiguration"]["enabled"] is True
    assert cw.describe_alarms()["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read()) == "two"
