"""``lambdad deploy`` as a user runs it: a SAM template with a function behind a function
URL, a schedule and an alias (AutoPublishAlias) deploys from a local code directory;
the function answers; a code change applies only the diff; ``lambdad delete-stack``
leaves nothing behind."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from e2e.helpers import LambdadServer, client_env, run_lambdad, stack_outputs

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Word: {Type: String, Default: one}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      Environment: {Variables: {WORD: !Ref Word}}
      FunctionUrlConfig: {AuthType: NONE}
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
Outputs:
  Url: {Value: !GetAtt FnUrl.FunctionUrl}
  Name: {Value: !Ref Fn}
"""

CODE = """\
import os
def handler(event, context):
    return {{"statusCode": 200, "body": "{v} " + os.environ["WORD"]}}
"""


def test_lambdad_deploy_sam_template(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("sam")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(CODE.format(v="v1"))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    env = client_env(lambdad, COLUMNS="200")

    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CREATE_COMPLETE" in done.stdout
    for logical in ("Fn", "FnAliaslive", "FnUrl", "FnTick", "FnRole"):
        assert logical in done.stdout
    outputs = stack_outputs(lambdad, stack)
    name, url = outputs["Name"], outputs["Url"]
    assert url in done.stdout.replace("\n", "") or "Url" in done.stdout

    lam = lambdad.client("lambda")
    answer = json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read())
    assert answer["body"] == "v1 one"
    assert _get(lambdad, url) == b"v1 one"
    events = lambdad.client("events")
    (rule,) = events.list_rules(NamePrefix=stack)["Rules"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == lam.get_alias(FunctionName=name, Name="live")["AliasArn"]

    # A code change: the function is updated, a version published and the alias moved;
    # the URL, the rule, the role and their permissions stay as they are.
    (tmp_path / "src" / "app.py").write_text(CODE.format(v="v2"))
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    changes = lambdad.client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]
    touched = {
        e["LogicalResourceId"]
        for e in changes[: _last_run(changes)]
        if e["ResourceStatus"].endswith("_COMPLETE")
    }
    assert touched == {stack, "Fn", "FnAliaslive"} | {
        e for e in touched if e.startswith("FnVersion")
    }
    assert any(e.startswith("FnVersion") for e in touched)
    assert _get(lambdad, url) == b"v2 one"
    assert stack_outputs(lambdad, stack)["Url"] == url

    done = run_lambdad(
        "deploy", "--stack-name", stack, "--parameter-overrides", "Word=two", env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read())["body"] == "v2 two"
    # Deployed again without it, the parameter keeps its value (nothing to change).
    # In 80 columns (a CI log), the outputs' URL still prints on one line, to copy.
    narrow = client_env(lambdad, COLUMNS="80")
    done = run_lambdad("deploy", "--stack-name", stack, env=narrow, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes to deploy" in done.stdout
    assert url in done.stdout

    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    rules = lambdad.client("events").list_rules(NamePrefix=stack)["Rules"]
    assert rules == []
    stacks = lambdad.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == stack] == ["DELETE_COMPLETE"]
    # Nothing else the stack made is left: its alias, URL and versions went with the
    # function; its API Gateway, Scheduler and mapping resources are checked by the tests
    # that make them.


def _get(server: LambdadServer, url: str) -> bytes:
    """GET a function URL (``*.localhost`` by its Host header: not every resolver knows it)."""
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(server.endpoint + "/", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=30) as page:
        body: bytes = page.read()
    return body


def _last_run(events: list[dict[str, str]]) -> int:
    """How many of the newest events belong to the last update (up to its start)."""
    for i, e in enumerate(events):
        if e["ResourceType"] == "AWS::CloudFormation::Stack" and e["ResourceStatus"].endswith(
            "_IN_PROGRESS"
        ):
            return i + 1
    return len(events)


# The seed's own template (../shared/seeds/): no CodeUri (SAM CLI's default, the
# template's directory), an implicit REST API from the Api event. Its python3.9 is
# refused today, as AWS refuses it for new functions (the deploy rolls back and says
# so), so the runtime is the one thing changed.
SEED_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  MyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.lambda_handler
      Runtime: python3.11
      Events:
        Api:
          Type: Api
          Properties:
            Path: /hello
            Method: get
"""
SEED_CODE = """\
import base64
import hashlib
import json
import subprocess
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}
"""


def test_seed_template_deploys_and_answers_curl(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("seed")
    (tmp_path / "app.py").write_text(SEED_CODE)
    (tmp_path / "template.yaml").write_text(SEED_TEMPLATE)
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    resources = lambdad.client("cloudformation").describe_stack_resources(StackName=stack)
    api_id = next(
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::ApiGateway::RestApi"
    )
    url = f"{lambdad.endpoint}/execute-api/{api_id}/Prod/hello"
    # The API's URL is printed though the template declares no outputs.
    assert f"{lambdad.endpoint}/execute-api/{api_id}/Prod/" in done.stdout
    curl = subprocess.run(
        ["curl", "-s", url], capture_output=True, text=True, timeout=30, check=False
    )
    assert json.loads(curl.stdout) == {"path": "/hello"}

    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lambdad.client("apigateway").get_rest_apis()["items"] == [] or api_id not in [
        a["id"] for a in lambdad.client("apigateway").get_rest_apis()["items"]
    ]


HTTP_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.lambda_handler
      Runtime: python3.11
      Events:
        Hi:
          Type: HttpApi
          Properties: {Path: /hi, Method: get}
        Nightly:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 day)}
Outputs:
  Api: {Value: !Ref ServerlessHttpApi}
"""


def test_http_api_and_scheduler_events(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("http")
    (tmp_path / "app.py").write_text(SEED_CODE.replace('event["path"]', 'event["rawPath"]'))
    (tmp_path / "template.yaml").write_text(HTTP_TEMPLATE)
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    api_id = stack_outputs(lambdad, stack)["Api"]
    url = f"{lambdad.endpoint}/execute-api/{api_id}/hi"
    curl = subprocess.run(
        ["curl", "-s", url], capture_output=True, text=True, timeout=30, check=False
    )
    assert json.loads(curl.stdout) == {"path": "/hi"}
    scheduler = lambdad.client("scheduler")
    fn = _resource(lambdad, stack, "Fn")
    name = _resource(lambdad, stack, "FnNightly")
    schedule = scheduler.get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["Target"]["Arn"].split(":")[6] == fn

    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert name not in [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
    apis = lambdad.client("apigatewayv2").get_apis()["Items"]
    assert api_id not in [a["ApiId"] for a in apis]


def _resource(server: LambdadServer, stack: str, logical_id: str) -> str:
    cfn = server.client("cloudformation")
    rows = cfn.describe_stack_resources(StackName=stack, LogicalResourceId=logical_id)
    physical: str = rows["StackResources"][0]["PhysicalResourceId"]
    return physical


def test_failed_deploy_rolls_back_and_says_why(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("bad")
    (tmp_path / "app.py").write_text(SEED_CODE)
    # python3.9 is refused for new functions (as AWS refuses it): the role made before
    # the function is deleted again, and the deploy says which resource failed and why.
    (tmp_path / "template.yaml").write_text(SEED_TEMPLATE.replace("python3.11", "python3.9"))
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "ROLLBACK_COMPLETE" in done.stdout
    assert "The runtime parameter of python3.9 is no longer supported" in done.stdout
    assert "MyFunctionRole" in done.stdout
    stack_doc = lambdad.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    assert stack_doc["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        lambdad.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
        == []
    )

    # Fixed, it deploys: the rolled-back stack is replaced, as sam deploy does.
    (tmp_path / "template.yaml").write_text(SEED_TEMPLATE)
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deleting it first" in done.stdout
    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def _wheel(path: Path) -> Path:
    """A one-module wheel (``tiny``), built by hand so that pip installs it offline."""
    files = {
        "tiny/__init__.py": b"VALUE = 'from a dependency'\n",
        "tiny-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n",
        "tiny-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    )
    files["tiny-1.0.dist-info/RECORD"] = (record + "tiny-1.0.dist-info/RECORD,,\n").encode()
    wheel = path / "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def test_build_installs_requirements_into_the_zip(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("build")
    src = tmp_path / "src"
    src.mkdir()
    wheel = _wheel(tmp_path)
    (src / "requirements.txt").write_text(f"{wheel}\n")
    (src / "app.py").write_text(
        "import tiny\ndef handler(event, context):\n    return tiny.VALUE\n"
    )
    body = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
    body += "  Fn:\n    Type: AWS::Serverless::Function\n"
    body += "    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.11}\n"
    body += "Outputs:\n  Name: {Value: !Ref Fn}\n"
    (tmp_path / "template.yaml").write_text(body)
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--build", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pip install" in done.stdout
    name = stack_outputs(lambdad, stack)["Name"]
    payload = lambdad.client("lambda").invoke(FunctionName=name)["Payload"].read()
    assert json.loads(payload) == "from a dependency"
    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


UNSUPPORTED_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Uses:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return 'uses'\\n"
      Handler: index.handler
      Runtime: python3.12
      Environment: {Variables: {TABLE: !Ref Table}}
  Alone:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return 'alone'\\n"
      Handler: index.handler
      Runtime: python3.12
"""


def test_unsupported_types_fail_the_plan_until_allowed(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    """As the README says: the plan lists the types, says how to go on, and
    ``--allow-unsupported`` deploys the rest without what refers to them."""
    stack = unique_name("unsup")
    (tmp_path / "template.yaml").write_text(UNSUPPORTED_TEMPLATE)
    env = client_env(lambdad, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", stack, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "AWS::DynamoDB::Table (Table)" in done.stderr
    assert "--allow-unsupported" in done.stderr
    done = run_lambdad(
        "deploy", "--stack-name", stack, "--allow-unsupported", env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "Skipped, not supported by lambdad: Table" in said
    assert "Uses (refers to Table, which is skipped)" in said
    resources = lambdad.client("cloudformation").describe_stack_resources(StackName=stack)
    made = {r["LogicalResourceId"] for r in resources["StackResources"]}
    assert "Alone" in made
    assert not {"Table", "Uses"} & made
    done = run_lambdad("delete-stack", stack, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
