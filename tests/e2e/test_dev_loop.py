"""``lambdad dev --function NAME DIR`` as a developer runs it: save a file, the next
invoke runs the new code; a file that does not compile and the function's own log
lines show in the terminal; a data directory of lambdad's in it is never packaged."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.helpers import LAMBDAD, LambdadServer, client_env, read_until

SOURCE = "def handler(event, context):\n    print('serving {tag}')\n    return {{'tag': '{tag}'}}\n"


def _tag(client: Any, name: str) -> str:
    answer = json.loads(client.invoke(FunctionName=name)["Payload"].read())
    return str(answer.get("tag", answer))


def test_a_save_is_what_the_next_invoke_runs(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    client = lambdad.client("lambda")
    name = new_function()["FunctionName"]
    source = tmp_path / "app.py"
    source.write_text(SOURCE.format(tag="one"))
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    # The directory `lambdad serve` ran in, as the README has it: its data directory
    # (whatever its name) holds the server's keys, never the function's code.
    for data_dir in (".lambdad", "state"):
        (tmp_path / data_dir).mkdir()
        (tmp_path / data_dir / "master.key").write_bytes(b"k" * 32)
        (tmp_path / data_dir / "lambdad.db").write_bytes(b"db")
    proc = subprocess.Popen(
        [LAMBDAD, "dev", "--function", name, str(tmp_path)],
        env=client_env(lambdad),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = read_until(proc, "watching", timeout=30)
        assert f"✓ {name} updated" in seen, seen
        assert _tag(client, name) == "one"
        code = client.get_function(FunctionName=name)["Code"]
        assert code["RepositoryType"] == "S3"
        with urllib.request.urlopen(code["Location"], timeout=30) as answer:
            archive = zipfile.ZipFile(io.BytesIO(answer.read()))
        assert archive.namelist() == ["app.py"]

        source.write_text(SOURCE.format(tag="two"))
        seen = read_until(proc, f"✓ {name} updated", timeout=30)
        # The update is done when the command says so: the next invoke runs it.
        assert _tag(client, name) == "two"
        # What the function printed reaches the terminal.
        seen = read_until(proc, "serving two", timeout=30)
        assert "serving two" in seen

        source.write_text("def handler(event, context)\n    return 1\n")
        seen = read_until(proc, "updated", timeout=30)
        assert "✗" in seen
        assert "app.py:1" in seen
        answer = client.invoke(FunctionName=name)
        assert answer["FunctionError"] == "Unhandled"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"Traceback" not in err, err.decode()


def test_a_directory_without_the_handler_is_not_pushed(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """Run from the wrong directory, it would replace the function's code with it."""
    client = lambdad.client("lambda")
    created = new_function()
    name, before = created["FunctionName"], created["CodeSha256"]
    (tmp_path / "notes.txt").write_text("not code")
    proc = subprocess.run(
        [LAMBDAD, "dev", "--function", name, str(tmp_path)],
        env=client_env(lambdad), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    handler = created["Handler"].rpartition(".")[0]
    assert f"{tmp_path} has no {handler}.py, the module of {name}'s handler" in proc.stderr
    assert "nothing was pushed" in proc.stderr
    assert client.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == before


# As `sam init` writes it: a parameter to give, and a resource type lambdad does not serve.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          STAGE: !Ref Stage
  ApplicationResourceGroup:
    Type: AWS::ResourceGroups::Group
    Properties:
      Name: !Sub ApplicationInsights-SAM-${AWS::StackName}
      ResourceQuery:
        Type: CLOUDFORMATION_STACK_1_0
"""


def test_a_template_is_deployed_then_its_code_directories_are_watched(
    lambdad: LambdadServer, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    stack = unique_name("dev")
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "app.py"
    source.write_text(SOURCE.format(tag="one"))
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    proc = subprocess.Popen(
        [
            *(LAMBDAD, "dev", str(template), "--stack-name", stack),
            *("--parameter-overrides", "Stage=test", "--allow-unsupported"),
        ],
        env=client_env(lambdad, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cfn, client = lambdad.client("cloudformation"), lambdad.client("lambda")
    try:
        assert "watching" in read_until(proc, "watching", timeout=60)
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        (name,) = [
            r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function"
        ]
        config = client.get_function_configuration(FunctionName=name)
        assert config["Environment"]["Variables"] == {"STAGE": "test"}
        assert _tag(client, name) == "one"
        # A template saved broken is reported; the loop goes on watching.
        template.write_text(TEMPLATE + "  Broken: [\n")
        assert "save to try again" in read_until(proc, "save to try again", timeout=30)
        template.write_text(TEMPLATE)
        assert "is up to date" in read_until(proc, "is up to date", timeout=30)
        source.write_text(SOURCE.format(tag="two"))
        assert f"✓ {name} updated" in read_until(proc, f"✓ {name} updated", timeout=30)
        assert _tag(client, name) == "two"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        cfn.delete_stack(StackName=stack)
    # Ctrl-C stops it quietly.
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err, err.decode()
    assert b"KeyboardInterrupt" not in err, err.decode()
