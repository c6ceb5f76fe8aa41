"""AWS SAM CLI against lambdad: how long ``sam deploy`` takes to create a stack (a
Python function behind an Api) and to update it after a code change, beside
``lambdad deploy`` of the same template into the same server (the baseline), same run.
SAM CLI uploads its artifacts to a moto S3 (``--s3-bucket``); ``lambdad deploy`` to
lambdad itself. Each figure is the wall time of the command a user runs.

Needs SAM CLI in ``.venv-sam`` (``make sam-cli``); says so and exits 0 without it.

    python bench/sam_cli_deploy.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

SAM = c.ROOT / ".venv-sam" / "bin" / "sam"
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get: {Type: Api, Properties: {Path: /hello, Method: get}}
"""
SOURCE = "def handler(event, context):\n    return {{'statusCode': 200, 'body': '{tag}'}}\n"


def main() -> int:
    args = c.parse_args(1, 3)
    if not SAM.exists():
        print(f"skipped: no SAM CLI at {SAM} (make sam-cli)")
        return 0
    n = args.n
    labels = ("sam deploy (create)", "sam deploy (code change)",
              "lambdad deploy (create)", "lambdad deploy (code change)")  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label in labels}
    with c.moto_server(Path(tempfile.mkdtemp(prefix="lambdad-sam-moto-")) / "moto.log") as moto:
        c.moto_client(moto, "s3").create_bucket(Bucket="artifacts")
        server = c.Server(c.moto_env(moto, "S3")).start()
        env = c.cli_env(
            AWS_DEFAULT_REGION=c.REGION,
            HOME=tempfile.mkdtemp(prefix="lambdad-sam-home-"),
            SAM_CLI_TELEMETRY="0",
        )
        sam_env = {
            **env,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": server.endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": server.endpoint,
            "AWS_ENDPOINT_URL_S3": moto,
        }
        own_env = {**env, "AWS_ENDPOINT_URL": server.endpoint}
        try:
            for i in range(n):
                for tool, tool_env in (("sam", sam_env), ("lambdad", own_env)):
                    directory = c.sam_project("lambdad-sam-", TEMPLATE, SOURCE.format(tag=0))
                    stack = f"{tool}-{i}"
                    if tool == "sam":
                        cmd = [str(SAM), "deploy", "--template-file", "template.yaml",
                               "--stack-name", stack, "--s3-bucket", "artifacts",
                               "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset",
                               "--region", c.REGION]  # fmt: skip
                    else:
                        cmd = [str(c.LAMBDAD), "deploy", "--stack-name", stack]
                    times[f"{tool} deploy (create)"].append(
                        c.timed_command(cmd, tool_env, directory)
                    )
                    (directory / "src" / "app.py").write_text(SOURCE.format(tag=1))
                    times[f"{tool} deploy (code change)"].append(
                        c.timed_command(cmd, tool_env, directory)
                    )
            rows = {label: c.summary(values) for label, values in times.items()}
        finally:
            server.stop()
    c.print_rows(f"a SAM Api stack, SAM CLI beside lambdad deploy, {n} rounds", rows)
    c.write_rows("sam_cli_deploy", args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
