"""The Python bootstrap as a real process against a fake Runtime API, on CPython 3.9 to 3.13."""

from __future__ import annotations

import calendar
import glob
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from functional.runtimes.fake_runtime_api import FakeRuntimeApi

BOOTSTRAP = (
    Path(__file__).resolve().parents[3] / "src" / "lambdad" / "runtimes" / "python" / "bootstrap.py"
)
LOG_LINE = re.compile(r"^\[(\w+)\]\t(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t(.*)$")


def _pyenv(version: str) -> str | None:
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python3"))
    return found[-1] if found else None


def _interpreters() -> list[object]:
    params: list[object] = [pytest.param(sys.executable, id="venv")]
    for version in ("3.9", "3.13"):
        path = _pyenv(version)
        params.append(
            pytest.param(
                path,
                id=version,
                marks=pytest.mark.skipif(path is None, reason=f"no CPython {version} under pyenv"),
            )
        )
    return params


@dataclass
class Runtime:
    process: subprocess.Popen[bytes]
    task_root: Path
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_bytes().decode()  # keep "\r" as written

    def stderr(self) -> str:
        return self.stderr_path.read_bytes().decode()

    def wait(self, timeout: float = 5.0) -> int:
        return self.process.wait(timeout)


Start = Callable[..., Runtime]


@pytest.fixture(params=_interpreters())
def python(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def start(python: str, api: FakeRuntimeApi, tmp_path: Path) -> Iterator[Start]:
    started: list[Runtime] = []

    def start(
        files: dict[str, str],
        handler: str = "app.handler",
        env: dict[str, str] | None = None,
        argv: list[str] | None = None,
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
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "us-east-1",
            **(env or {}),
        }
        stdout_path = tmp_path / f"stdout{len(started)}"
        stderr_path = tmp_path / f"stderr{len(started)}"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                argv or [python, str(BOOTSTRAP)],
                cwd=task_root,
                env=full_env,
                stdout=out,
                stderr=err,
            )
        runtime = Runtime(process, task_root, stdout_path, stderr_path)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        if runtime.process.poll() is None:
            runtime.process.kill()
        runtime.process.wait(5)


def _version(python: str) -> tuple[int, int]:
    out = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    major, minor = out.split()
    return int(major), int(minor)


ECHO = """
def handler(event, context):
    return {"echo": event, "id": context.aws_request_id}
"""


# ------------------------------------------------------------------------------ results


def test_results_of_several_invokes_come_back_over_one_connection(
    start: Start, api: FakeRuntimeApi
) -> None:
    start({"app.py": ECHO})

    for n in range(3):
        request_id = api.invoke({"n": n, "text": "ok"})
        posted = api.wait_for(request_id)
        assert posted.kind == "response"
        assert posted.json() == {"echo": {"n": n, "text": "ok"}, "id": request_id}
        assert posted.headers["content-type"] == "application/json"

    assert api.connections == 1


@pytest.mark.parametrize("how", ["announced", "silently"])
def test_a_connection_closed_by_the_server_is_replaced(
    start: Start, api: FakeRuntimeApi, how: str
) -> None:
    api.close_connections = how
    start({"app.py": ECHO})

    for n in range(3):
        assert api.wait_for(api.invoke(n)).json()["echo"] == n

    assert api.connections >= 6  # a GET and a POST per invoke, each on its own


def test_bytes_result_is_posted_as_is(start: Start, api: FakeRuntimeApi) -> None:
    start({"app.py": "def handler(event, context):\n    return b'\\x00\\xffraw'\n"})

    posted = api.wait_for(api.invoke({}))

    assert posted.kind == "response"
    assert posted.body == b"\x00\xffraw"
    assert posted.headers["content-type"] == "application/unknown"


def test_none_and_strings_are_json(start: Start, api: FakeRuntimeApi) -> None:
    start({"app.py": "def handler(event, context):\n    return event['value']\n"})

    assert api.wait_for(api.invoke({"value": None})).body == b"null"
    assert api.wait_for(api.invoke({"value": "text"})).body == b'"text"'


def test_non_ascii_result_is_escaped_before_python_3_12_only(
    start: Start, api: FakeRuntimeApi, python: str
) -> None:
    start({"app.py": "def handler(event, context):\n    return {'v': 'd\\u00e9j\\u00e0'}\n"})

    posted = api.wait_for(api.invoke({}))

    expected = json.dumps({"v": "déjà"}, ensure_ascii=_version(python) < (3, 12))
    assert posted.body == expected.encode()


def test_decimals_are_written_exactly(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "app.py": """
            from decimal import Decimal
            def handler(event, context):
                return {"price": Decimal("1.10"), "big": Decimal("12345678901234567890.123"),
                        "nan": Decimal("NaN"), "list": [Decimal("2")]}
            """
        }
    )

    posted = api.wait_for(api.invoke({}))

    assert posted.body == (
        b'{"price": 1.10, "big": 12345678901234567890.123, "nan": NaN, "list": [2]}'
    )


def test_unserialisable_result_is_a_marshal_error(start: Start, api: FakeRuntimeApi) -> None:
    start({"app.py": "def handler(event, context):\n    return {1, 2}\n"})

    request_id = api.invoke({})
    posted = api.wait_for(request_id)

    assert posted.kind == "error"
    assert posted.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"


def test_event_that_is_not_json_is_an_unmarshal_error(start: Start, api: FakeRuntimeApi) -> None:
    start({"app.py": ECHO})

    posted = api.wait_for(api.invoke(raw=b"{not json"))

    assert posted.kind == "error"
    assert posted.json()["errorType"] == "Runtime.UnmarshalError"
    assert posted.json()["errorMessage"].startswith("Unable to unmarshal input: Expecting")


# ------------------------------------------------------------------------------ context


def test_context_matches_awslambdaric(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "app.py": """
            import time
            def handler(event, context):
                first = context.get_remaining_time_in_millis()
                time.sleep(0.05)
                return {
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "aws_request_id": context.aws_request_id,
                    "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name,
                    "identity": [context.identity.cognito_identity_id,
                                 context.identity.cognito_identity_pool_id],
                    "client_context": context.client_context,
                    "tenant_id": context.tenant_id,
                    "remaining": [first, context.get_remaining_time_in_millis()],
                }
            """
        }
    )

    request_id = api.invoke({}, deadline_in_ms=2000)
    result = api.wait_for(request_id).json()

    assert result.pop("remaining") == [
        pytest.approx(2000, abs=300),
        pytest.approx(1950, abs=300),
    ]
    assert result == {
        "function_name": "fn",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "memory_limit_in_mb": "128",
        "aws_request_id": request_id,
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": [None, None],
        "client_context": None,
        "tenant_id": None,
    }


def test_remaining_time_decreases_and_stops_at_zero(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "app.py": """
            import time
            def handler(event, context):
                a = context.get_remaining_time_in_millis()
                time.sleep(0.1)
                b = context.get_remaining_time_in_millis()
                return [a, b]
            """
        }
    )

    first, second = api.wait_for(api.invoke({}, deadline_in_ms=1000)).json()
    assert 0 < second < first <= 1000
    assert first - second >= 90

    assert api.wait_for(api.invoke({}, deadline_in_ms=-5000)).json() == [0, 0]


def test_client_context_and_cognito_identity(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {
            "app.py": """
            def handler(event, context):
                cc = context.client_context
                return {
                    "installation_id": cc.client.installation_id,
                    "app_title": cc.client.app_title,
                    "app_package_name": cc.client.app_package_name,
                    "custom": cc.custom,
                    "env": cc.env,
                    "identity_id": context.identity.cognito_identity_id,
                    "pool_id": context.identity.cognito_identity_pool_id,
                }
            """
        }
    )
    client_context = {
        "client": {"installation_id": "inst-1", "app_title": "Títle"},
        "custom": {"k": "v"},
        "env": {"platform": "linux"},
    }
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}

    request_id = api.invoke(
        {},
        headers={
            "Lambda-Runtime-Client-Context": json.dumps(client_context),
            "Lambda-Runtime-Cognito-Identity": json.dumps(identity),
        },
    )

    assert api.wait_for(request_id).json() == {
        "installation_id": "inst-1",
        "app_title": "Títle",
        "app_package_name": None,
        "custom": {"k": "v"},
        "env": {"platform": "linux"},
        "identity_id": "id-1",
        "pool_id": "pool-1",
    }


def test_trace_id_is_in_the_environment_for_its_invocation_only(
    start: Start, api: FakeRuntimeApi
) -> None:
    start(
        {
            "app.py": """
            import os
            def handler(event, context):
                return os.environ.get("_X_AMZN_TRACE_ID")
            """
        }
    )
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    assert api.wait_for(api.invoke({}, headers={"Lambda-Runtime-Trace-Id": trace})).json() == trace
    assert api.wait_for(api.invoke({})).json() is None


# ------------------------------------------------------------------------------- errors


def test_handler_exception_is_posted_with_its_stack_and_the_loop_goes_on(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start(
        {
            "app.py": """
            def fail(what):
                raise ValueError("bad " + what)

            def handler(event, context):
                if event.get("fail"):
                    fail("input")
                return "fine"
            """
        }
    )
    app = str(runtime.task_root / "app.py")

    request_id = api.invoke({"fail": True})
    posted = api.wait_for(request_id)

    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == "ValueError"
    assert posted.headers["content-type"] == "application/json"
    assert posted.json() == {
        "errorMessage": "bad input",
        "errorType": "ValueError",
        "requestId": request_id,
        "stackTrace": [
            f'  File "{app}", line 7, in handler\n    fail("input")\n',
            f'  File "{app}", line 3, in fail\n    raise ValueError("bad " + what)\n',
        ],
    }
    assert (
        "[ERROR] ValueError: bad input\rTraceback (most recent call last):\r"
        f'\u00a0\u00a0File "{app}", line 7, in handler\r\u00a0\u00a0\u00a0\u00a0fail("input")\r'
    ) in runtime.stdout()

    assert api.wait_for(api.invoke({})).json() == "fine"
    assert runtime.process.poll() is None


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        pytest.param(
            {},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'app'",
            id="missing-module",
        ),
        pytest.param(
            {"app.py": "import not_installed_dependency\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_installed_dependency'",
            id="missing-dependency",
        ),
        pytest.param(
            {"app.py": ECHO},
            "app.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'app'",
            id="missing-handler",
        ),
        pytest.param(
            {"app.py": ECHO},
            "x",
            "Runtime.MalformedHandlerName",
            "Bad handler 'x': not enough values to unpack (expected 2, got 1)",
            id="malformed-name",
        ),
        pytest.param(
            {"app.py": ECHO},
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
            id="built-in-module",
        ),
    ],
)
def test_init_errors_are_posted_then_the_process_exits(
    start: Start,
    api: FakeRuntimeApi,
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str,
) -> None:
    runtime = start(files, handler=handler)

    posted = api.wait_init_error()

    assert posted.headers["lambda-runtime-function-error-type"] == error_type
    assert posted.json() == {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",
        "stackTrace": [],
    }
    assert runtime.wait() == 1
    assert f"[ERROR] {error_type}: {message}\rTraceback (most recent call last):\n" in (
        runtime.stdout()
    )
    assert "LAMBDA_WARNING: Unhandled exception." in runtime.stdout()


def test_syntax_error_in_the_handler_module(start: Start, api: FakeRuntimeApi) -> None:
    runtime = start({"app.py": "def handler(event, context)\n    return 1\n"})

    posted = api.wait_init_error().json()

    assert posted["errorType"] == "Runtime.UserCodeSyntaxError"
    assert posted["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "(app.py, line 1)" in posted["errorMessage"]
    app = runtime.task_root / "app.py"
    assert posted["stackTrace"] == [f'  File "{app}" Line 1\n    def handler(event, context)\n']
    assert runtime.wait() == 1


def test_exception_while_importing_is_reported_with_its_stack(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start({"app.py": "CONFIG = {}\nTABLE = CONFIG['table']\n"})

    posted = api.wait_init_error()

    assert posted.headers["lambda-runtime-function-error-type"] == "KeyError"
    body = posted.json()
    assert (body["errorType"], body["errorMessage"], body["requestId"]) == (
        "KeyError",
        "'table'",
        "",
    )
    assert body["stackTrace"][-1] == (
        f'  File "{runtime.task_root / "app.py"}", line 2, in <module>\n'
        "    TABLE = CONFIG['table']\n"
    )
    assert not any(str(BOOTSTRAP) in frame for frame in body["stackTrace"])
    assert runtime.wait() == 1


# ------------------------------------------------------------------------------ modules


def test_sys_path_puts_the_task_root_and_layers_first(
    start: Start, api: FakeRuntimeApi, python: str
) -> None:
    runtime = start({"app.py": "import sys\ndef handler(e, c):\n    return sys.path\n"})

    path = api.wait_for(api.invoke({})).json()

    major, minor = _version(python)
    assert path[:3] == [
        str(runtime.task_root),
        f"/opt/python/lib/python{major}.{minor}/site-packages",
        "/opt/python",
    ]
    assert str(BOOTSTRAP.parent) not in path


def test_a_user_module_named_bootstrap_is_not_shadowed(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {"bootstrap.py": "def handler(event, context):\n    return 'user bootstrap'\n"},
        handler="bootstrap.handler",
    )

    assert api.wait_for(api.invoke({})).json() == "user bootstrap"


def test_handler_in_a_nested_directory(start: Start, api: FakeRuntimeApi) -> None:
    start(
        {"pkg/sub/mod.py": "def fn(event, context):\n    return __name__\n"},
        handler="pkg/sub/mod.fn",
    )

    assert api.wait_for(api.invoke({})).json() == "pkg.sub.mod"


def test_importing_the_bootstrap_has_no_side_effects_until_main(
    start: Start, api: FakeRuntimeApi, python: str
) -> None:
    # What a zygote does: import first, fork, then call main() in the child.
    script = textwrap.dedent(
        f"""
        import importlib.util, logging, sys
        before = list(sys.path)
        spec = importlib.util.spec_from_file_location("lambdad_bootstrap", {str(BOOTSTRAP)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert sys.path == before, "sys.path changed on import"
        assert logging.getLogger().handlers == [], "logging configured on import"
        module.main()
        """
    )
    start({"app.py": ECHO}, argv=[python, "-c", script])

    request_id = api.invoke({"zygote": True})
    assert api.wait_for(request_id).json() == {"echo": {"zygote": True}, "id": request_id}


# ------------------------------------------------------------------------------ logging


LOGGING_APP = """
import logging
logger = logging.getLogger()
def handler(event, context):
    print("printed", end="")
    logger.warning("careful %s", "now")
    logger.info("for your information")
    logger.debug("details")
    return "ok"
"""


def test_log_records_use_the_aws_format_and_warning_level(
    start: Start, api: FakeRuntimeApi
) -> None:
    runtime = start({"app.py": LOGGING_APP})

    request_id = api.invoke({})
    api.wait_for(request_id)

    # Everything the invocation wrote is out before its response is posted.
    out = runtime.stdout()
    assert out.startswith("printed[WARNING]\t")
    lines = out[len("printed") :].splitlines()
    assert len(lines) == 1
    record = LOG_LINE.match(lines[0])
    assert record is not None
    assert record.group(1, 3, 4) == ("WARNING", request_id, "careful now")
    logged_at = calendar.timegm(time.strptime(record.group(2)[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(logged_at - time.time()) < 60  # UTC, whatever TZ says


def test_aws_lambda_log_level_sets_the_root_level(start: Start, api: FakeRuntimeApi) -> None:
    runtime = start({"app.py": LOGGING_APP}, env={"AWS_LAMBDA_LOG_LEVEL": "debug"})

    request_id = api.invoke({})
    api.wait_for(request_id)

    lines = runtime.stdout().removeprefix("printed").splitlines()
    levels = [m.group(1) for m in map(LOG_LINE.match, lines) if m is not None]
    assert levels == ["WARNING", "INFO", "DEBUG"]
