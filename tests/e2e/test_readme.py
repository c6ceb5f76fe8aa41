"""The README, run as a new user runs it: a fresh clone, ``make serve``, the example pasted.

The README's shell blocks are read from a fresh ``git clone`` of this repository's
committed HEAD (so the test follows the README as it is, not a copy of it): the line
``make serve`` of the first block runs in the clone's root, with no ``--data-dir`` and
no ``LAMBDAD_*`` or ``AWS_*`` variable, then the usage example (the block that runs
``lambdad credentials``) is pasted into a bash, one command at a time, as into a second
terminal, and after it the later blocks that go on with its function ``hello`` (a
function URL, an HTTP API, a WebSocket API, a CloudWatch query, an alarm). The clone
reuses this checkout's ``.venv`` through a symlink (its install stamp stays newer than
the clone's ``pyproject.toml``, so ``make`` installs nothing), and runs the clone's own
``src`` (``PYTHONPATH``).

Two settings differ from a user's machine, both outside what is tested: ``LAMBDAD_PORT``
puts the server on a free port (the README's 9550 may be taken; ``lambdad credentials``
prints the port the data directory was served on, and a block's ``127.0.0.1:9550`` is
that port), and ``HOME`` is empty (no ``~/.aws`` of this machine).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 90.0
# Log lines are written off the invoke path: a read right after an invoke may be early.
LOG_WAIT = 15.0

pytestmark = pytest.mark.skipif(
    not (shutil.which("git") and shutil.which("make") and shutil.which("bash")),
    reason="needs git, make and bash",
)


# -- reading the README ---------------------------------------------------------------------


def shell_blocks(readme: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined and a here-document kept with
    the command it feeds (as a shell reads them)."""
    out: list[str] = []
    pending = ""
    lines = iter(block.splitlines())
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", command)
        if heredoc:
            body = []
            for inner in lines:
                body.append(inner)
                if inner.strip() == heredoc.group(1):
                    break
            command = "\n".join([command, *body])
        if command and not command.startswith("#"):
            out.append(command)
    return out


def usage_block(readme: str) -> str:
    blocks = [b for b in shell_blocks(readme) if "lambdad credentials" in b]
    assert blocks, "the README has no shell block that runs `lambdad credentials`"
    return blocks[0]


def hello_blocks(readme: str) -> list[str]:
    """The later blocks that go on with the example's function ``hello`` (its URL, an
    API in front of it, its metrics), run in the same shell after the example."""
    usage = usage_block(readme)
    named = re.compile(r"(--function-name |Value=)hello\b")
    return [b for b in shell_blocks(readme) if b != usage and named.search(b)]


def json_values(text: str) -> list[Any]:
    """Every JSON object or array that starts somewhere in ``text``."""
    decoder = json.JSONDecoder()
    found = []
    for m in re.finditer(r"[\[{]", text):
        with contextlib.suppress(ValueError):
            found.append(decoder.raw_decode(text, m.start())[0])
    return found


def contains(value: Any, wanted: Any) -> bool:
    if value == wanted:
        return True
    if isinstance(value, dict):
        return any(contains(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(contains(v, wanted) for v in value)
    return False


# -- a fresh clone, served ------------------------------------------------------------------


@dataclass
class Served:
    clone: Path
    env: dict[str, str]  # a user's shell: no AWS_* or LAMBDAD_* variables
    port: int

    def exports(self) -> dict[str, str]:
        """What ``lambdad credentials`` exports, run as the README runs it."""
        proc = subprocess.run(
            [str(self.clone / ".venv/bin/lambdad"), "credentials"],
            cwd=self.clone,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        pairs = (
            line.removeprefix("export ").split("=", 1)
            for line in proc.stdout.splitlines()
            if line.startswith("export ")
        )
        return dict(pairs)


def user_env(home: Path, clone: Path) -> dict[str, str]:
    skip = ("AWS_", "LAMBDAD_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTHON", "PYTEST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(HOME=str(home), PYTHONPATH=str(clone / "src"))
    return env


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make serve exited {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.1)
    raise AssertionError(f"make serve did not listen within {START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("readme")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    (clone / ".venv").symlink_to(VENV)
    stamp = VENV / ".installed"
    if stamp.exists():  # make must not reinstall the shared venv from the clone
        older = stamp.stat().st_mtime - 1
        os.utime(clone / "pyproject.toml", (older, older))
    (tmp / "home").mkdir()
    env = user_env(tmp / "home", clone)
    readme = (clone / "README.md").read_text()
    serve = next(
        (c.split("#")[0].strip() for c in commands(shell_blocks(readme)[0]) if "serve" in c),
        None,
    )
    assert serve == "make serve", f"the README's first block does not start the server: {serve}"
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", serve],
            cwd=clone,
            env={**env, "LAMBDAD_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_listening(port, process, log)
        yield Served(clone, env, port)
    finally:
        # Ctrl-C in the terminal: SIGINT to the foreground group (make and lambdad).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"make serve did not stop on Ctrl-C:\n{log.read_text()}") from None
    text = log.read_text(errors="replace")
    assert f"data dir: {clone / '.lambdad'}" in text, text
    assert "Traceback" not in text, text
    assert " ERROR " not in text, text


class Shell:
    """A bash the example is pasted into, one command at a time (state carries over)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run(self, command: str) -> tuple[int, str]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        marker = f"--- {uuid.uuid4().hex} status"
        # The command's own stdin is /dev/null, so it cannot read the next command.
        self.proc.stdin.write(f'{{ {command}\n}} </dev/null; echo "{marker} $?"\n'.encode())
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + COMMAND_TIMEOUT
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (m := re.search(rf"{marker} (\d+)\n".encode(), seen)) is None:
                left = deadline - time.monotonic()
                assert left > 0, f"`{command}` did not finish in {COMMAND_TIMEOUT} s:\n{seen!r}"
                if sel.select(timeout=left):
                    chunk = os.read(fd, 65536)
                    assert chunk, f"bash exited during `{command}`:\n{seen!r}"
                    seen += chunk
        return int(m.group(1)), seen[: m.start()].decode(errors="replace")

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()


# -- the tests ------------------------------------------------------------------------------


def test_the_usage_example_runs_verbatim_in_a_fresh_clone(served: Served) -> None:
    readme = (served.clone / "README.md").read_text()
    block = usage_block(readme)
    printed = re.findall(r'print\("([^"\\]+)"\)', block)
    account = served.exports()["AWS_ACCOUNT_ID"]
    shell = Shell(served.clone, served.env)
    invokes = log_reads = 0
    try:
        for command in commands(block):
            status, out = shell.run(command)
            assert status == 0, f"`{command}` exited {status}:\n{out}"
            payload = re.search(r"--payload '([^']*)'", command)
            if " invoke " in f" {command} " and payload:
                invokes += 1
                event = json.loads(payload.group(1))
                assert any(contains(v, event) for v in json_values(out)), (command, out)
            elif re.search(r"\blogs\b", command):
                log_reads += 1
                deadline = time.monotonic() + LOG_WAIT
                while not log_complete(out, printed) and time.monotonic() < deadline:
                    status, out = shell.run(command)  # a read: running it again is harmless
                    assert status == 0, f"`{command}` exited {status}:\n{out}"
                assert log_complete(out, printed), f"`{command}` printed no full log:\n{out}"
            elif "get-caller-identity" in command:
                assert account in out, out
        later = hello_blocks(readme)
        assert len(later) >= 5, "the README goes on with hello: URL, APIs, metrics, alarm"
        for command in (c for b in later for c in commands(b)):
            run_on_hello(shell, command.replace("127.0.0.1:9550", f"127.0.0.1:{served.port}"))
    finally:
        shell.close()
    assert invokes >= 2, "the example invokes with the AWS CLI and with lambdad"
    assert log_reads >= 1, "the example reads the function's log"


def run_on_hello(shell: Shell, command: str) -> None:
    """One command of a later block; what a curl of the function, a WebSocket client
    and a metrics query answer is checked against the request (hello echoes its event)."""
    status, out = shell.run(command)
    assert status == 0, f"`{command}` exited {status}:\n{out}"
    if command.startswith("curl "):
        path, key, value = re.findall(r"(\w+)\?(\w+)=(\w+)", command)[0]
        events = [v["echo"] for v in json_values(out) if isinstance(v, dict) and "echo" in v]
        assert events, f"`{command}` did not reach hello:\n{out}"
        assert events[0]["rawPath"] == f"/{path}", out
        assert events[0]["queryStringParameters"] == {key: value}, out
    elif "websockets" in command:  # a client's message, through the WebSocket API
        events = [v["echo"] for v in json_values(out) if isinstance(v, dict) and "echo" in v]
        assert events, f"`{command}` did not reach hello:\n{out}"
        assert events[0]["requestContext"]["eventType"] == "MESSAGE", out
        assert json.loads(events[0]["body"])["action"] == "greet", out
    elif "get-metric-statistics" in command:
        deadline = time.monotonic() + LOG_WAIT
        while not json.loads(out)["Datapoints"] and time.monotonic() < deadline:
            status, out = shell.run(command)  # the example's invokes, counted in the hour
        assert json.loads(out)["Datapoints"], f"`{command}`: no datapoints\n{out}"


def log_complete(out: str, printed: list[str]) -> bool:
    marks = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")
    return all(m in out for m in marks) and all(p in out for p in printed)


BOTO3_FLOW = """
import io, json, sys, time, zipfile
import boto3

account = boto3.client("sts").get_caller_identity()["Account"]
lam = boto3.client("lambda")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", "def handler(event, context):\\n    print('boto3 was here')\\n"
                         "    return {'echo': event}\\n")
lam.create_function(FunctionName="from-boto3", Runtime="python3.12", Handler="app.handler",
                    Role=f"arn:aws:iam::{account}:role/from-boto3",
                    Code={"ZipFile": buf.getvalue()})
lam.get_waiter("function_active_v2").wait(FunctionName="from-boto3")
result = lam.invoke(FunctionName="from-boto3", Payload=b'{"n": 7}')
body = json.loads(result["Payload"].read())
logs = boto3.client("logs")
deadline = time.monotonic() + 15
messages = []
while time.monotonic() < deadline:
    events = logs.filter_log_events(logGroupName="/aws/lambda/from-boto3")["events"]
    messages = [e["message"] for e in events]
    if any(m.startswith("REPORT") for m in messages):
        break
    time.sleep(0.2)
print(json.dumps({"account": account, "body": body, "error": result.get("FunctionError"),
                  "messages": messages}))
"""


def test_boto3_works_with_only_the_printed_exports(served: Served) -> None:
    exports = served.exports()
    assert "AWS_ENDPOINT_URL" not in exports, "a bare AWS_ENDPOINT_URL captures every service"
    assert {"AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL_STS"} <= exports.keys()
    proc = subprocess.run(
        [sys.executable, "-c", BOTO3_FLOW],
        cwd=served.clone,
        env={**served.env, **exports},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.splitlines()[-1])
    assert outcome["account"] == exports["AWS_ACCOUNT_ID"]
    assert (outcome["error"], outcome["body"]) == (None, {"echo": {"n": 7}})
    assert "boto3 was here" in [m.rstrip("\n") for m in outcome["messages"]]
    assert any(m.startswith("REPORT RequestId: ") for m in outcome["messages"])


# Blocks whose names are the reader's to fill in (ACCOUNT, my-fn, HOST, <ARN>), and that
# need nothing but lambdad: run with the names filled in, each command must be accepted.
NAMED_BLOCKS = (
    "aws events put-rule",
    "aws scheduler create-schedule",
    "lambdad signing-profile create",
    "--queues jobs",
)


def test_the_blocks_with_names_to_fill_in_run(served: Served) -> None:
    readme = (served.clone / "README.md").read_text()
    blocks = [next((b for b in shell_blocks(readme) if m in b), "") for m in NAMED_BLOCKS]
    missing = [m for m, b in zip(NAMED_BLOCKS, blocks, strict=True) if not b]
    assert not missing, f"the README no longer has these blocks: {missing}"
    account = served.exports()["AWS_ACCOUNT_ID"]
    env = {
        **served.env,
        **served.exports(),
        "PATH": f"{served.clone / '.venv/bin'}:{served.env['PATH']}",
    }
    shell = Shell(served.clone, env)
    names = {"ACCOUNT": account, "HOST": "127.0.0.1", ":9550": f":{served.port}"}
    try:
        # my-fn is the reader's own function: made here as the usage example makes hello.
        for setup in (
            "printf 'def handler(event, context):\\n    return event\\n' > my_fn.py",
            "python3 -m zipfile -c my_fn.zip my_fn.py",
            "test -e function.zip || cp my_fn.zip function.zip",  # the example's, to sign
            "aws lambda create-function --function-name my-fn --runtime python3.12 "
            f"--role arn:aws:iam::{account}:role/my-fn --handler my_fn.handler "
            "--zip-file fileb://my_fn.zip",
        ):
            status, out = shell.run(setup)
            assert status == 0, f"`{setup}` exited {status}:\n{out}"
        for command in (c for b in blocks for c in commands(b)):
            for name, value in names.items():  # whole words: not VIRTUAL_HOST's HOST
                command = re.sub(
                    rf"\b{re.escape(name)}\b" if name.isalpha() else re.escape(name), value, command
                )
            status, out = shell.run(command)
            assert status == 0, f"`{command}` exited {status}:\n{out}"
            signer = re.search(r"arn:aws:signer:\S+", out)
            if signer:  # `lambdad signing-profile create` prints the <ARN> used next
                names["<ARN>"] = signer.group(0)
    finally:
        shell.close()
    assert "<ARN>" in names, "the code signing block prints its profile version ARN"


def indented_blocks(readme: str) -> list[str]:
    """The README's indented (four-space) code blocks, dedented."""
    found = re.findall(r"\n\n((?:    .*\S.*\n)+)", readme)
    return ["".join(line[4:] + "\n" for line in b.splitlines()) for b in found]


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_the_operator_role_commands_run_where_serve_ran(served: Served) -> None:
    """The ``lambdad roles`` blocks, in the directory ``make serve`` ran in, with the
    reader's policy.json and trust.json; an optional ``[s3]`` given, a ``...`` line left."""
    readme = (served.clone / "README.md").read_text()
    blocks = [b for b in indented_blocks(readme) if "lambdad roles" in b]
    assert len(blocks) >= 3, "upstream credentials, policies and trust"
    env = {**served.env, "PATH": f"{served.clone / '.venv/bin'}:{served.env['PATH']}"}
    shell = Shell(served.clone, {**env, "SECRET": "operator-secret"})
    try:
        status, out = shell.run(f"echo '{POLICY}' > policy.json && echo '{TRUST}' > trust.json")
        assert status == 0, out
        ran = []
        for command in (c for b in blocks for c in commands(b)):
            if " ... " in command:
                continue
            command = re.sub(r" \[(\w+)\]", r" \1", command)
            status, out = shell.run(command)
            assert status == 0, f"`{command}` exited {status}:\n{out}"
            ran.append(command)
        status, out = shell.run("lambdad roles ls")
    finally:
        shell.close()
    assert len(ran) >= 8, ran
    declared = json.loads(out)
    assert "lambda.amazonaws.com" in json.dumps(declared["arn:aws:iam::123456789012:role/etl"])
    assert (served.clone / ".lambdad" / "roles.json").exists()


WS_ANSWER = """
import os
import boto3

def handler(event, context):
    if event["requestContext"]["eventType"] == "MESSAGE":
{snippet}
    return {{"statusCode": 200}}
"""


def test_a_function_answers_websocket_clients_as_the_readme_shows(served: Served) -> None:
    """The README's ``@connections`` snippet, pasted into a handler: its client gets
    the answer (the role allowed ManageConnections with ``lambdad roles allow``)."""
    import boto3
    from websockets.sync.client import connect

    readme = (served.clone / "README.md").read_text()
    (snippet,) = [
        b
        for b in re.findall(r"^```python\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
        if "post_to_connection" in b
    ]
    exports = served.exports()
    account, region = exports["AWS_ACCOUNT_ID"], exports["AWS_REGION"]
    session = boto3.session.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    endpoint = f"http://127.0.0.1:{served.port}"
    lam = session.client("lambda", endpoint_url=endpoint)
    gateway = session.client("apigatewayv2", endpoint_url=endpoint)
    role = f"arn:aws:iam::{account}:role/ws-answer"
    allowed = subprocess.run(
        [str(served.clone / ".venv/bin/lambdad"), "roles", "allow", role,
         "--action", "execute-api:ManageConnections"],
        cwd=served.clone, env=served.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    source = WS_ANSWER.format(snippet="".join(f"        {line}\n" for line in snippet.splitlines()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", source)
    arn = lam.create_function(
        FunctionName="ws-answer", Runtime="python3.12", Handler="app.handler", Role=role,
        Code={"ZipFile": buf.getvalue()},
    )["FunctionArn"]  # fmt: skip
    api = gateway.create_api(
        Name="ws-answer", ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
    )["ApiId"]  # fmt: skip
    uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration = gateway.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=uri
    )["IntegrationId"]
    gateway.create_route(ApiId=api, RouteKey="$default", Target=f"integrations/{integration}")
    gateway.create_stage(ApiId=api, StageName="dev", AutoDeploy=True)
    lam.add_permission(
        FunctionName="ws-answer", StatementId="ws", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{region}:{account}:{api}/*",
    )  # fmt: skip
    with connect(f"ws://127.0.0.1:{served.port}/execute-api/{api}/dev") as client:
        client.send('{"action": "anything"}')
        assert client.recv(timeout=30) == "hi"  # a text frame, as API Gateway sends
