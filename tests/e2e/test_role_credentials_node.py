"""Execution-role credentials used by a Node.js function through the AWS SDK for
JavaScript v3, shipped to it as a layer (``nodejs/node_modules``) as a user ships it.

The function holds nothing but what its environment gives it (the role session's
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_ENDPOINT_URL_LAMBDA`` and the operator's ``AWS_ENDPOINT_URL_S3``): it invokes
another function of its account, reads a bucket on a ``moto_server`` mapped as the S3
endpoint, and is refused another account's function. The same keys, used by the SDK
outside the function once the session has expired, are refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e import node_sdk
from e2e.aws_side import moto_client, moto_server
from e2e.helpers import (
    OTHER,
    PRIMARY,
    LambdadServer,
    handler_zip,
    invoke_ok,
    make_zip,
    role_for,
)

# Long enough for a cold start and the calls on a loaded machine, short to wait out.
SESSION_SECONDS = 6

CALLER = """
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');

exports.handler = async (event) => {
  const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
                 'AWS_ENDPOINT_URL_LAMBDA', 'AWS_ENDPOINT_URL_S3'];
  const out = { env: Object.fromEntries(names.map((n) => [n, process.env[n] || ''])),
                now: Date.now() / 1000 };
  const lambda = new LambdaClient({});
  for (const [key, name] of [['own', event.target], ['foreign', event.foreign]]) {
    try {
      const got = await lambda.send(new InvokeCommand({
        FunctionName: name, Payload: JSON.stringify({ from: 'node' }) }));
      out[key] = JSON.parse(Buffer.from(got.Payload).toString());
    } catch (err) {
      out[key] = { error: err.name, message: err.message };
    }
  }
  const s3 = new S3Client({ forcePathStyle: true });
  const got = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: 'k' }));
  out.object = await got.Body.transformToString();
  return out;
};
"""

# The same SDK on the host, with keys taken out of the function.
OUTSIDE = """
const { LambdaClient, GetFunctionCommand } = require('@aws-sdk/client-lambda');
new LambdaClient({ maxAttempts: 1 })
  .send(new GetFunctionCommand({ FunctionName: process.argv[1] }))
  .then((got) => console.log(JSON.stringify({ name: got.Configuration.FunctionName })))
  .catch((err) => console.log(JSON.stringify({ error: err.name })));
"""


def _outside(server: LambdadServer, env: dict[str, str], name: str) -> Any:
    """GetFunction through the SDK v3 on the host, with the function's keys."""
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child_env.update({k: env[k] for k in keys})
    child_env.update(
        AWS_ENDPOINT_URL_LAMBDA=server.endpoint,
        AWS_REGION=server.region,
        NODE_PATH=str(node_sdk.CACHE / "nodejs" / "node_modules"),
    )
    done = subprocess.run(
        ["node", "-e", OUTSIDE, name],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_node_sdk_v3_uses_the_role_session(
    lambdad_factory: Callable[..., LambdadServer], tmp_path: Path
) -> None:
    reason = node_sdk.missing_npm()
    assert reason is None, reason  # `make test` installs npm where it is missing
    layer = node_sdk.layer_zip()
    with contextlib.ExitStack() as stack:
        moto = stack.enter_context(moto_server(tmp_path / "moto.log"))
        server = lambdad_factory(
            env={
                "LAMBDAD_ROLE_SESSION_DURATION": str(SESSION_SECONDS),
                "LAMBDAD_FUNCTION_ENDPOINTS": f"s3={moto}",
            }
        )
        s3 = moto_client(moto, "s3")
        s3.create_bucket(Bucket="node-bucket")
        s3.put_object(Bucket="node-bucket", Key="k", Body=b"from moto via sdk v3")

        client = server.client("lambda")
        sdk = client.publish_layer_version(
            LayerName="aws-sdk-v3",
            Content={"ZipFile": layer},
            CompatibleRuntimes=["nodejs20.x"],
        )["LayerVersionArn"]
        for name, account in (("node-target", None), ("node-foreign", OTHER.account_id)):
            server.client("lambda", account=account).create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_for(account or PRIMARY.account_id),
                Handler="app.handler",
                Code={"ZipFile": handler_zip()},
            )
        foreign = f"arn:aws:lambda:{server.region}:{OTHER.account_id}:function:node-foreign"
        client.create_function(
            FunctionName="node-caller",
            Runtime="nodejs20.x",
            Role=role_for(PRIMARY.account_id),
            Handler="index.handler",
            Code={"ZipFile": make_zip({"index.js": CALLER})},
            Layers=[sdk],
            Timeout=30,
            MemorySize=256,
        )
        for name in ("node-target", "node-caller"):
            client.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
            )

        out = invoke_ok(
            server,
            "node-caller",
            {"target": "node-target", "foreign": foreign, "bucket": "node-bucket"},
        )
        env = out["env"]
        assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert env["AWS_ACCESS_KEY_ID"] != PRIMARY.access_key_id
        assert env["AWS_SESSION_TOKEN"]
        assert env["AWS_ENDPOINT_URL_S3"] == moto
        assert out["own"] == {"from": "node"}
        assert out["object"] == "from moto via sdk v3"
        assert out["foreign"]["error"] == "AccessDeniedException", out["foreign"]
        assert "assumed-role/lambda-role/node-caller" in out["foreign"]["message"]

        # The keys outside the function, once their session has expired: refused.
        time.sleep(max(0.0, out["now"] + SESSION_SECONDS + 0.5 - time.time()))
        assert _outside(server, env, "node-target") == {"error": "ExpiredTokenException"}
