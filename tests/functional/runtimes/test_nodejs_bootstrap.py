"""The Node.js bootstrap as a real process against a fake Runtime API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from functional.runtimes.fake_runtime_api import FakeRuntimeApi

BOOTSTRAP = (
    Path(__file__).resolve().parents[3] / "src" / "lambdad" / "runtimes" / "nodejs" / "bootstrap.js"
)
NODE = shutil.which("node")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t([A-Z]+)\t(.*)$")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js (Debian package nodejs) not on PATH")


@dataclass
class Runtime:
    process: subprocess.Popen[bytes]
    task_root: Path
    stdout_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_bytes().decode()  # keep "\r" as written

    def log_lines(self) -> list[tuple[str, str, str]]:
        """(request id, level, message) of each console line."""
        matches = (LOG_LINE.match(line) for line in self.stdout().split("\n"))
        return [(m[2], m[3], m[4]) for m in matches if m is not None]

    def wait(self, timeout: float = 5.0) -> int:
        return self.process.wait(timeout)


Start = Callable[..., Runtime]


@pytest.fixture
def start(api: FakeRuntimeApi, tmp_path: Path) -> Iterator[Start]:
    started: list[Runtime] = []

    def start(
        files: dict[str, str], handler: str = "index.handler", env: dict[str, str] | None = None
    ) -> Runtime:
        task_root = tmp_path / "task"
        for name, text in files.items():
            path = task_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        task_root.mkdir(exist_ok=True)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "us-east-1",
            **(env or {}),
        }
        stdout_path = tmp_path / f"stdout{len(started)}"
        with stdout_path.open("wb") as out:
            process = subprocess.Popen(
                [str(NODE), str(BOOTSTRAP)],
                cwd=task_root,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        runtime = Runtime(process, task_root, stdout_path)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        if runtime.process.poll() is None:
            runtime.process.kill()
        runtime.process.wait(5)


# ---------------------------------------------------------------------- handler styles


def test_async_handler_results_come_back_over_one_connection(
    start: Start, api: FakeRuntimeApi
) -> None:
    start({"index.js": "exports.handler = async (event, context) => ({ echo: event });\n"})

    for n in range(3):
        posted = api.wait_for(api.invoke({"n": n}))
        assert posted.kind == "response"
        assert posted.json() == {"echo": {"n": n}}
        assert posted.headers["content-type"] == "application/json"

    assert api.connections == 1


@pytest.mark.parametrize("how", ["announced", "silently"])
def test_a_connection_closed_by_the_server_is_replaced(
    start: Start, api: FakeRuntimeApi, how: str
) -> None:
    api.close_connections = how
    start({"index.js": "exports.handler = async (event) => event;\n"})

    for n in range(3):
        assert api.wait_for(api.invoke(n)).json() == n

    assert api.connections >= 6  # a GET and a POST per invoke, each on its own


def test_handler_returning_a_promise(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "index.js": """
            module.exports.handler = (event) =>
              new Promise((resolve) => setTimeout(() => resolve(event.value * 2), 10));
            """
        }
    )

    assert api.wait_for(api.invoke({"value": 21})).json() == 42


def test_undefined_result_is_null(start: Start, api: FakeRuntimeApi) -> None:
    start({"index.js": "exports.handler = async () => undefined;\n"})

    assert api.wait_for(api.invoke({})).body == b"null"


def test_callback_result_waits_for_the_event_loop_to_drain(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start(
        {
            "index.js": """
            exports.handler = (event, context, callback) => {
              setTimeout(() => console.log('timer done'), 100);
              callback(null, { via: 'callback' });
            };
            """
        }
    )

    request_id = api.invoke({})
    assert api.wait_for(request_id).json() == {"via": "callback"}

    # The response was posted only after the pending timer ran.
    assert (request_id, "INFO", "timer done") in runtime.log_lines()


def test_callback_result_is_posted_at_once_when_not_waiting(
    start: Start, api: FakeRuntimeApi
) -> None:
    start(
        {
            "index.js": """
            exports.handler = (event, context, callback) => {
              context.callbackWaitsForEmptyEventLoop = false;
              setTimeout(() => {}, 30000);
              callback(null, context.callbackWaitsForEmptyEventLoop);
            };
            """
        }
    )

    assert api.wait_for(api.invoke({}), timeout=3).json() is False


def test_sync_handler_without_callback_succeeds_with_null(
    start: Start, api: FakeRuntimeApi
) -> None:
    start({"index.js": "exports.handler = (event, context, callback) => { /* nothing */ };\n"})

    assert api.wait_for(api.invoke({})).body == b"null"


@pytest.mark.parametrize(
    ("call", "kind", "body"),
    [
        ("context.succeed({ ok: 1 })", "response", {"ok": 1}),
        ("context.done(null, 'done')", "response", "done"),
        ("context.fail(new Error('nope'))", "error", None),
        ("callback(null, 'first'); callback(null, 'second')", "response", "first"),
    ],
)
def test_context_done_succeed_and_fail(
    start: Start, api: FakeRuntimeApi, call: str, kind: str, body: object
) -> None:
    start({"index.js": f"exports.handler = (event, context, callback) => {{ {call}; }};\n"})

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == kind
    if kind == "response":
        assert posted.json() == body
    else:
        assert posted.json()["errorMessage"] == "nope"


def test_es_module_handler_in_an_mjs_file(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "app.mjs": """
            const answer = await Promise.resolve(42);  // top-level await: really an ES module
            export const handler = async () => ({ answer, esm: typeof require === 'undefined' });
            """
        },
        handler="app.handler",
    )

    assert api.wait_for(api.invoke({})).json() == {"answer": 42, "esm": True}


def test_es_module_handler_in_a_js_file_of_a_module_package(
    start: Start, api: FakeRuntimeApi
) -> None:
    start(
        {
            "package.json": '{"type": "module"}',
            "src/app.js": "export async function handler(event) { return import.meta.url; }\n",
        },
        handler="src/app.handler",
    )

    url = api.wait_for(api.invoke({})).json()
    assert url.startswith("file://")
    assert url.endswith("/task/src/app.js")


def test_nested_handler_property_of_a_commonjs_module(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {"lib/app.js": "exports.handlers = { main: async () => 'nested' };\n"},
        handler="lib/app.handlers.main",
    )

    assert api.wait_for(api.invoke({})).json() == "nested"


# ---------------------------------------------------------------------------- context


def test_context_fields(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "index.js": """
            exports.handler = async (event, context) => {
              const first = context.getRemainingTimeInMillis();
              await new Promise((resolve) => setTimeout(resolve, 60));
              return {
                functionName: context.functionName,
                functionVersion: context.functionVersion,
                memoryLimitInMB: context.memoryLimitInMB,
                logGroupName: context.logGroupName,
                logStreamName: context.logStreamName,
                invokedFunctionArn: context.invokedFunctionArn,
                awsRequestId: context.awsRequestId,
                clientContext: context.clientContext ?? 'absent',
                identity: context.identity ?? 'absent',
                waits: context.callbackWaitsForEmptyEventLoop,
                trace: process.env._X_AMZN_TRACE_ID,
                remaining: [first, context.getRemainingTimeInMillis()],
              };
            };
            """
        }
    )

    request_id = api.invoke(
        {}, deadline_in_ms=2000, headers={"Lambda-Runtime-Trace-Id": "Root=1-abc"}
    )
    result = api.wait_for(request_id).json()

    first, second = result.pop("remaining")
    assert 1500 < first <= 2000
    assert 50 <= first - second < 500
    assert result == {
        "functionName": "fn",
        "functionVersion": "$LATEST",
        "memoryLimitInMB": "256",
        "logGroupName": "/aws/lambda/fn",
        "logStreamName": "2024/01/01/[$LATEST]0123456789abcdef",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "awsRequestId": request_id,
        "clientContext": "absent",
        "identity": "absent",
        "waits": True,
        "trace": "Root=1-abc",
    }


def test_client_context_and_identity(start: Start, api: FakeRuntimeApi) -> None:
    start({"index.js": "exports.handler = async (e, c) => [c.clientContext, c.identity];\n"})
    client_context = {"client": {"installation_id": "inst-1"}, "custom": {"k": "v"}, "env": {}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}

    request_id = api.invoke(
        {},
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(client_context),
            "Lambda-Runtime-Cognito-Identity": json.dumps(identity),
        },
    )

    assert api.wait_for(request_id).json() == [client_context, identity]


# ----------------------------------------------------------------------------- errors


def test_thrown_error_is_posted_with_its_stack_and_the_loop_goes_on(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start(
        {
            "index.js": """
            exports.handler = async (event) => {
              if (event.fail) throw new TypeError('bad input');
              return 'fine';
            };
            """
        }
    )

    request_id = api.invoke({"fail": True})
    posted = api.wait_for(request_id)

    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == "TypeError"
    body = posted.json()
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad input")
    assert body["trace"][0] == "TypeError: bad input"
    assert f"({runtime.task_root / 'index.js'}:3:" in body["trace"][1]
    level, message = next((lvl, msg) for rid, lvl, msg in runtime.log_lines() if rid == request_id)
    assert level == "ERROR"
    assert message.startswith('Invoke Error \t{"errorType":"TypeError","errorMessage":"bad input"')

    assert api.wait_for(api.invoke({})).json() == "fine"


def test_async_handler_whose_promise_never_settles_fails_when_the_loop_drains(
    start: Start, api: FakeRuntimeApi
) -> None:
    start({"index.js": "exports.handler = async () => new Promise(() => {});\n"})

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == "error"
    assert posted.json()["errorType"] == "Runtime.NodeJsExit"
    # The environment stays usable.
    assert api.wait_for(api.invoke({})).kind == "error"


def test_callback_with_a_string_error(start: Start, api: FakeRuntimeApi) -> None:
    start({"index.js": "exports.handler = (e, c, callback) => callback('plain failure');\n"})

    posted = api.wait_for(api.invoke({}))

    assert posted.json() == {"errorType": "string", "errorMessage": "plain failure", "trace": []}


def test_result_that_cannot_be_stringified_is_an_error(start: Start, api: FakeRuntimeApi) -> None:
    start({"index.js": "exports.handler = async () => ({ big: 10n });\n"})

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == "error"
    assert posted.json()["errorType"] == "Error"
    assert posted.json()["errorMessage"] == "Unable to stringify response body"


def test_unhandled_rejection_fails_the_invocation_and_exits(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start(
        {
            "index.js": """
            exports.handler = (event, context, callback) => {
              Promise.reject(new Error('nobody caught me'));
            };
            """
        }
    )

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == (
        "Runtime.UnhandledPromiseRejection"
    )
    assert posted.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert posted.json()["errorMessage"] == "Error: nobody caught me"
    assert runtime.wait() == 128


def test_uncaught_exception_fails_the_invocation_and_exits(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start(
        {
            "index.js": """
            exports.handler = async () => {
              setTimeout(() => { throw new RangeError('from a timer'); }, 5);
              return new Promise(() => {});
            };
            """
        }
    )

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == "error"
    assert posted.json()["errorType"] == "RangeError"
    assert posted.json()["errorMessage"] == "from a timer"
    assert runtime.wait() == 129


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message_start"),
    [
        pytest.param(
            {},
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'index'\nRequire stack:\n- ",
            id="missing-module",
        ),
        pytest.param(
            {"index.js": "exports.other = () => 1;\n"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
            id="missing-handler",
        ),
        pytest.param(
            {"index.js": "exports.handler = 42;\n"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
            id="not-a-function",
        ),
        pytest.param(
            {"index.js": "exports.handler = () => {;\n"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
            id="syntax-error",
        ),
        pytest.param(
            {"index.js": ""},
            "index",
            "Runtime.MalformedHandlerName",
            "Bad handler",
            id="malformed-name",
        ),
        pytest.param(
            {"index.js": "throw new Error('config missing');\n"},
            "index.handler",
            "Error",
            "config missing",
            id="throws-while-loading",
        ),
    ],
)
def test_init_errors_are_posted_then_the_process_exits(
    start: Start,
    api: FakeRuntimeApi,
    files: dict[str, str],
    handler: str,
    error_type: str,
    message_start: str,
) -> None:
    runtime = start(files, handler=handler)

    posted = api.wait_init_error()

    assert posted.headers["lambda-runtime-function-error-type"] == error_type
    body = posted.json()
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message_start)
    assert isinstance(body["trace"], list)
    assert runtime.wait() == 129
    assert runtime.log_lines()[0][:2] == ("undefined", "ERROR")
    assert runtime.log_lines()[0][2].startswith(
        f'Uncaught Exception \t{{"errorType":"{error_type}"'
    )


# ---------------------------------------------------------------------------- console


def test_console_lines_carry_time_request_id_and_level(start: Start, api: FakeRuntimeApi) -> None:
    runtime = start(
        {
            "index.js": """
            console.log('loading');
            exports.handler = async () => {
              console.log('hello %s %d', 'world', 42, { a: 1 });
              console.info('info');
              console.warn('warn');
              console.error('two\\nlines');
              console.debug('debug');
              return 'ok';
            };
            """
        }
    )

    request_id = api.invoke({})
    api.wait_for(request_id)

    assert runtime.log_lines() == [
        ("undefined", "INFO", "loading"),
        (request_id, "INFO", "hello world 42 { a: 1 }"),
        (request_id, "INFO", "info"),
        (request_id, "WARN", "warn"),
        (request_id, "ERROR", "two\rlines"),
        (request_id, "DEBUG", "debug"),
    ]


def test_aws_lambda_log_level_filters_console(start: Start, api: FakeRuntimeApi) -> None:
    runtime = start(
        {
            "index.js": """
            exports.handler = async () => {
              console.debug('debug'); console.info('info'); console.warn('warn');
              return 'ok';
            };
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "WARN"},
    )

    api.wait_for(api.invoke({}))

    assert [level for _, level, _ in runtime.log_lines()] == ["WARN"]
