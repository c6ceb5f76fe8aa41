"""Helpers for end-to-end tests: a real ``lambdad serve`` process and ways to talk to it.

``LambdadServer`` starts the server as a subprocess on a free loopback port, waits
until it answers a signed request, and stops it with SIGTERM. It hands out boto3
clients, runs the AWS CLI, and sends raw (signed, unsigned or tampered) HTTP
requests. ``make_zip`` builds function archives in memory.

Import with ``from e2e.helpers import ...`` (``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

BIN = Path(sys.executable).parent
LAMBDAD = str(BIN / "lambdad")
AWS_CLI = str(BIN / "aws")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def role_for(account: str) -> str:
    """An execution role of ``account`` (lambdad, like AWS, refuses another account's)."""
    return f"arn:aws:iam::{account}:role/lambda-role"


HANDLER_SOURCE = "def handler(event, context):\n    return event\n"


@dataclass(frozen=True, slots=True)
class TestCredential:
    __test__ = False  # not a test class, despite its name

    access_key_id: str
    secret_access_key: str
    account_id: str

    @property
    def entry(self) -> str:
        return f"{self.access_key_id}:{self.secret_access_key}:{self.account_id}"

    def botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key)


PRIMARY = TestCredential("AKIDLAMBDADTEST00001", "lambdad-test-secret-0001", "123456789012")
OTHER = TestCredential("AKIDLAMBDADTEST00002", "lambdad-test-secret-0002", "210987654321")


def make_zip(files: Mapping[str, str | bytes], *, mode: int | None = None) -> bytes:
    """A zip archive of ``{path: content}``, built in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((mode if mode is not None else 0o100644) & 0xFFFF) << 16
            zf.writestr(info, content)
    return buf.getvalue()


def handler_zip(source: str = HANDLER_SOURCE, module: str = "app") -> bytes:
    """A Python function archive with ``source`` as ``<module>.py``."""
    return make_zip({f"{module}.py": source})


def package_zip(source: str, *modules: ModuleType) -> bytes:
    """A deployment package: ``app.py`` and the given installed packages (Powertools
    and its dependencies, say) as they are installed here."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", source)
        for module in modules:
            path = Path(str(module.__file__))
            if path.name != "__init__.py":
                zf.write(path, path.name)
                continue
            for file in path.parent.rglob("*.py"):
                zf.write(file, str(file.relative_to(path.parent.parent)))
    return buf.getvalue()


def powertools_zip(source: str) -> bytes:
    """``app.py`` with Powertools and what it imports, as installed here (the test is
    skipped where Powertools is not installed)."""
    powertools = pytest.importorskip("aws_lambda_powertools")
    import jmespath
    import typing_extensions

    return package_zip(source, powertools, jmespath, typing_extensions)


# Powertools routes of a pets API, for a resolver of each front door (``routes(app)``).
POWERTOOLS_PET_ROUTES = """
def routes(app):
    @app.get("/pets/<pet_id>")
    def get_pet(pet_id):
        event = app.current_event
        return {"pet": pet_id, "q": event.get_query_string_value("q"),
                "agent": event.get_header_value("user-agent")}

    @app.post("/pets")
    def post_pet():
        return {"got": app.current_event.json_body}, 201
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(slots=True)
class Response:
    """A raw HTTP answer."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")


class AwsCliError(Exception):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"aws {' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


@contextlib.contextmanager
def signing_clock(at: datetime) -> Iterator[None]:
    """Make botocore sign as if the time were ``at`` (UTC)."""
    naive = at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive):
        yield


@dataclass
class LambdadServer:
    """One ``lambdad serve`` subprocess and the ways tests talk to it."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    credentials: tuple[TestCredential, ...] | None = (PRIMARY, OTHER)
    env: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    process: subprocess.Popen[bytes] | None = None
    _clients: dict[tuple[str, str, str, bool], Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credential(self) -> TestCredential:
        """The credential that signs by default."""
        if self.credentials:
            return self.credentials[0]
        return self.generated_credential()

    @property
    def stdout_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.stderr"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    # -- life cycle ------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> LambdadServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
        # Which way environments start is the suite's to choose: LAMBDAD_FAST_PATH=0 runs
        # every test on the exec path (a test may still set it in its own env).
        if "LAMBDAD_FAST_PATH" in os.environ:
            env["LAMBDAD_FAST_PATH"] = os.environ["LAMBDAD_FAST_PATH"]
        # Hermetic: no AWS credentials or configuration of this machine leak into the
        # server's own outbound calls (S3 code, destinations); tests pass their own in env.
        env.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        if self.credentials:
            env["LAMBDAD_CREDENTIALS"] = ",".join(c.entry for c in self.credentials)
        env.update(self.env)
        cmd = [LAMBDAD, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                cmd, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            # Whatever went wrong, a server that never became ready must not outlive it.
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"lambdad exited with {self.process.returncode} before answering:\n"
                    f"{self.stdout()}\n{self.stderr()}"
                )
            with contextlib.suppress(OSError):
                if self.request("GET", "/2016-08-19/account-settings/", timeout=2).status == 200:
                    return
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"lambdad did not answer within {timeout} s:\n{self.stdout()}\n{self.stderr()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit status; kills and raises if it takes over ``timeout``."""
        assert self.process is not None
        self.close_clients()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def close_clients(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def kill(self) -> None:
        self.close_clients()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def generated_credential(self) -> TestCredential:
        doc = json.loads((self.data_dir / "credentials.json").read_text())
        return TestCredential(doc["access_key_id"], doc["secret_access_key"], doc["account_id"])

    # -- clients ---------------------------------------------------------------------

    def credential_for(self, account: str | None) -> TestCredential:
        if account is None:
            return self.credential
        for cred in self.credentials or (self.credential,):
            if cred.account_id == account:
                return cred
        raise KeyError(f"no test credential for account {account}")

    def client(
        self,
        service: str = "lambda",
        region: str | None = None,
        account: str | None = None,
        *,
        parameter_validation: bool = True,
    ) -> Any:
        """A boto3 client for this server, retries off (cached per arguments).

        ``parameter_validation=False`` lets invalid values reach the server.
        """
        cred = self.credential_for(account)
        region = region or self.region
        key = (service, region, cred.access_key_id, parameter_validation)
        if key not in self._clients:
            self._clients[key] = boto3.session.Session().client(
                service,
                endpoint_url=self.endpoint,
                region_name=region,
                aws_access_key_id=cred.access_key_id,
                aws_secret_access_key=cred.secret_access_key,
                config=Config(
                    retries={"total_max_attempts": 1},
                    read_timeout=70,
                    parameter_validation=parameter_validation,
                ),
            )
        return self._clients[key]

    def aws_env(self, region: str | None = None, account: str | None = None) -> dict[str, str]:
        cred = self.credential_for(account)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=cred.access_key_id,
            AWS_SECRET_ACCESS_KEY=cred.secret_access_key,
            AWS_DEFAULT_REGION=region or self.region,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        return env

    def aws(
        self,
        *args: str,
        region: str | None = None,
        account: str | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
    ) -> Any:
        """Run ``aws ARGS`` against this server; parsed JSON output (None when empty).

        Raises ``AwsCliError`` (with the CLI's stderr) when the command fails.
        """
        cmd = [
            AWS_CLI,
            *args,
            "--endpoint-url",
            self.endpoint,
            "--region",
            region or self.region,
            "--output",
            "json",
        ]
        proc = subprocess.run(
            cmd,
            env=self.aws_env(region, account),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
        if proc.returncode != 0:
            raise AwsCliError(list(args), proc.returncode, proc.stderr)
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    # -- raw HTTP ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        *,
        sign: bool = True,
        credential: TestCredential | None = None,
        region: str | None = None,
        service: str = "lambda",
        timeout: float = 30,
    ) -> Response:
        """Send one HTTP request as given (path still percent-encoded), signed by default."""
        data = body.encode() if isinstance(body, str) else body
        hdrs = dict(headers or {})
        if sign:
            hdrs = sign_headers(
                method,
                self.endpoint + path,
                data,
                hdrs,
                credential or self.credential,
                region or self.region,
                service,
            )
        return send(self.endpoint, method, path, data, hdrs, timeout=timeout)


def sign_headers(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    credential: TestCredential,
    region: str,
    service: str = "lambda",
) -> dict[str, str]:
    """``headers`` plus the SigV4 headers botocore would add for this request."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credential.botocore(), service, region).add_auth(request)
    return dict(request.headers.items())


def send(
    endpoint: str,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float = 30,
) -> Response:
    """One request over a fresh connection, nothing rewritten on the way."""
    netloc = urlsplit(endpoint).netloc
    conn = http.client.HTTPConnection(netloc, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@contextlib.contextmanager
def serving(server: LambdadServer) -> Iterator[LambdadServer]:
    """``server`` started, and stopped when the block ends: a clean stop (SIGTERM) must
    exit 0. The one way e2e fixtures run a server of their own."""
    server.start()
    try:
        yield server
    finally:
        status = server.stop()
        assert status == 0, f"lambdad exited {status} on SIGTERM:\n{server.stderr()}"


def active_function(lam: Any, name: str, code: str | bytes, **params: Any) -> str:
    """A function created with ``lam`` and Active: ``code`` is ``app.py``'s source or a
    whole zip archive; ``variables`` become its environment variables, other ``params``
    go to CreateFunction (Python 3.12 and ``app.handler`` unless they say). Its name."""
    variables = params.pop("variables", None)
    if variables is not None:
        params["Environment"] = {"Variables": dict(variables)}
    params = {"Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler", **params}
    archive = code if isinstance(code, bytes) else handler_zip(code)
    lam.create_function(FunctionName=name, Code={"ZipFile": archive}, **params)
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    return name


def invoke_ok(
    server: LambdadServer, name: str, event: Any = None, account: str | None = None
) -> Any:
    """Invoke ``name`` (RequestResponse) as ``account``'s caller: its answer, decoded,
    asserting the function did not fail."""
    out = server.client("lambda", account=account).invoke(
        FunctionName=name, Payload=json.dumps({} if event is None else event)
    )
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def permit_url(
    lam: Any, name: str, auth: str = "NONE", principal: str = "*", **params: Any
) -> None:
    """The two statements AWS asks of a function URL since October 2025, as the console
    writes them: ``lambda:InvokeFunctionUrl`` for ``auth`` (statement ``url``) and
    ``lambda:InvokeFunction`` through a URL (``url-invoke``); ``params`` (a
    ``Qualifier``) go to both AddPermission calls."""
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal=principal, FunctionUrlAuthType=auth, **params)  # fmt: skip
    lam.add_permission(FunctionName=name, StatementId="url-invoke", Action="lambda:InvokeFunction",
                       Principal=principal, InvokedViaFunctionUrl=True, **params)  # fmt: skip


def authorize_only_route(apigw: Any, api_id: str, authorization_type: str, **params: Any) -> None:
    """The HTTP API's one route (a quick-created API's) authorised by
    ``authorization_type`` (UpdateRoute; ``params`` name the authorizer, its scopes)."""
    (route,) = apigw.get_routes(ApiId=api_id)["Items"]
    apigw.update_route(
        ApiId=api_id, RouteId=route["RouteId"], AuthorizationType=authorization_type, **params
    )


def stack_outputs(server: LambdadServer, stack: str) -> dict[str, str]:
    """The stack's outputs, by key (DescribeStacks)."""
    doc = server.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in doc["Outputs"]}


# -- the lambdad command as a client --------------------------------------------------------


def client_env(server: LambdadServer, **extra: str) -> dict[str, str]:
    """The environment of a user who signs with ``server``'s credential (``lambdad``
    client commands, run with ``run_lambdad``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    cred = server.credential
    env.update(
        AWS_ACCESS_KEY_ID=cred.access_key_id,
        AWS_SECRET_ACCESS_KEY=cred.secret_access_key,
        AWS_REGION=server.region,
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.update(extra)
    return env


def run_lambdad(
    *args: str, env: Mapping[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``lambdad ARGS`` as a user runs it, its output captured."""
    return subprocess.run(
        [LAMBDAD, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float = 10.0) -> str:
    """What the process printed until ``needle`` (unbuffered: select sees every byte)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while needle.encode() not in seen and time.monotonic() < deadline:
            if sel.select(timeout=deadline - time.monotonic()):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                seen += chunk
    return seen.decode()
