"""``lambdad invoke``, ``lambdad logs`` and ``lambdad ls``, run as a user runs them.

Each test runs ``.venv/bin/lambdad`` as a subprocess against a real server, with the
endpoint and credentials found the way AWS tools find them: ``AWS_ENDPOINT_URL_LAMBDA``
before ``AWS_ENDPOINT_URL``, boto3's credential chain (variables, a profile), else
the credential in the server's data directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.helpers import LAMBDAD, LambdadServer, client_env, free_port, read_until
from e2e.helpers import run_lambdad as run
from e2e.invoke_support import REPORT_RE, Deployer, probe_zip, wait_for_log

ServerFactory = Callable[..., LambdadServer]


@pytest.fixture(scope="module")
def deploy(lambdad: LambdadServer) -> Iterator[Deployer]:
    deployer = Deployer(lambdad, "cli")
    yield deployer
    deployer.delete_all()
    assert not deployer.server_errors(), deployer.server_errors()


@pytest.fixture(scope="module")
def probe(deploy: Deployer) -> str:
    return deploy(probe_zip())


# -- invoke ---------------------------------------------------------------------------------


def test_invoke_prints_the_result(lambdad: LambdadServer, probe: str) -> None:
    proc = run("invoke", probe, "--payload", '{"hello": "cli"}', env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"hello": "cli"}
    assert proc.stderr == ""


def test_invoke_reads_the_payload_from_a_file_or_stdin(
    lambdad: LambdadServer, probe: str, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    proc = run("invoke", probe, "--payload", f"@{event}", env=client_env(lambdad))
    assert json.loads(proc.stdout) == {"from": "file"}
    proc = run("invoke", probe, "-p", "@-", env=client_env(lambdad), stdin='{"from": "stdin"}')
    assert json.loads(proc.stdout) == {"from": "stdin"}


def test_invoke_tail_prints_the_log_to_stderr(lambdad: LambdadServer, probe: str) -> None:
    payload = json.dumps({"action": "say", "lines": ["from the cli tail"]})
    proc = run("invoke", probe, "--payload", payload, "--tail", env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert "from the cli tail" in lines
    assert REPORT_RE.fullmatch(lines[-1]), lines[-1]


def test_invoke_exits_1_on_a_function_error(lambdad: LambdadServer, probe: str) -> None:
    payload = json.dumps({"action": "fail", "message": "cli failure"})
    proc = run("invoke", probe, "--payload", payload, env=client_env(lambdad))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["errorType"] == "ValueError"
    assert doc["errorMessage"] == "cli failure"


def test_invoke_with_a_qualifier(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip())
    version = lambdad.client("lambda").publish_version(FunctionName=name)["Version"]
    payload = '{"action": "context_fields"}'
    proc = run("invoke", name, "-q", version, "-p", payload, env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["function_version"] == version


def test_invoke_api_errors_are_reported_not_raised(lambdad: LambdadServer) -> None:
    proc = run("invoke", "no-such-function-for-cli", env=client_env(lambdad))
    assert proc.returncode == 1
    assert "ResourceNotFoundException" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_server_says_what_to_do(lambdad: LambdadServer) -> None:
    env = client_env(lambdad, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    proc = run("invoke", "anything", env=env)
    assert proc.returncode == 1
    assert "cannot reach lambdad" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:9550", "http://[::1"])
def test_an_endpoint_that_is_not_a_url_says_what_one_is(lambdad: LambdadServer, url: str) -> None:
    proc = run("ls", "--endpoint-url", url, env=client_env(lambdad))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"'{url}' is not an endpoint URL: give one such as http://127.0.0.1:9550" in proc.stderr


def test_lambda_specific_endpoint_wins_over_the_general_one(
    lambdad: LambdadServer, probe: str
) -> None:
    env = client_env(
        lambdad,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        AWS_ENDPOINT_URL_LAMBDA=lambdad.endpoint,
    )
    proc = run("invoke", probe, "-p", '{"n": 1}', env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"n": 1}


@pytest.mark.parametrize("endpoint_in", ["environment", "profile"])
def test_credentials_come_from_a_profile(
    lambdad: LambdadServer, probe: str, tmp_path: Path, endpoint_in: str
) -> None:
    """A profile of the AWS CLI's: its keys, and its endpoint_url as the CLI reads it."""
    cred = lambdad.credential
    (tmp_path / "credentials").write_text(
        f"[local]\naws_access_key_id = {cred.access_key_id}\n"
        f"aws_secret_access_key = {cred.secret_access_key}\n"
    )
    config = "[profile local]\nregion = us-east-1\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    env.update(
        AWS_PROFILE="local",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
    )
    if endpoint_in == "profile":
        config += f"endpoint_url = {lambdad.endpoint}\n"
    else:
        env.update(AWS_ENDPOINT_URL=lambdad.endpoint)
    (tmp_path / "config").write_text(config)
    proc = run("invoke", probe, "-p", '{"via": "profile"}', env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"via": "profile"}
    logs = run("logs", probe, env=env)  # its log group may not be written yet: reached
    assert "cannot reach" not in logs.stderr, logs.stderr
    assert "Traceback" not in logs.stderr, logs.stderr


def test_without_aws_credentials_the_data_dirs_credential_is_used(
    lambdad_factory: ServerFactory, tmp_path: Path
) -> None:
    server = lambdad_factory(credentials=None)
    name = Deployer(server, "cli-datadir")(probe_zip())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    env.update(
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    by_option = run("invoke", name, "-p", "[1]", "--data-dir", str(server.data_dir), env=env)
    assert by_option.returncode == 0, by_option.stderr
    assert json.loads(by_option.stdout) == [1]
    by_variable = run(
        "invoke", name, "-p", "[2]", env={**env, "LAMBDAD_DATA_DIR": str(server.data_dir)}
    )
    assert json.loads(by_variable.stdout) == [2]
    # ./.lambdad, as `lambdad serve` run in that directory would use.
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".lambdad").symlink_to(server.data_dir)
    in_cwd = run("invoke", name, "-p", "[3]", env=env, cwd=tmp_path / "project")
    assert json.loads(in_cwd.stdout) == [3]
    nowhere = run("invoke", name, env=env, cwd=tmp_path)
    assert nowhere.returncode == 1
    assert "no credentials" in nowhere.stderr


# -- logs -----------------------------------------------------------------------------------


def test_logs_prints_the_raw_lines(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip())
    payload = json.dumps({"action": "say", "lines": ["cli-logs-line"]})
    invoked = run("invoke", name, "-p", payload, "--tail", env=client_env(lambdad))
    report = next(line for line in invoked.stderr.splitlines() if line.startswith("REPORT"))
    wait_for_log(lambdad, name, report)
    proc = run("logs", name, env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: python:")
    assert lines[1].startswith("START RequestId: ")
    assert "cli-logs-line" in lines
    assert lines[-1] == report
    old = run("logs", name, "--since", "2000-01-01T00:00:00", env=client_env(lambdad))
    assert old.stdout == proc.stdout


def test_a_traceback_prints_on_lines_of_its_own(lambdad: LambdadServer, deploy: Deployer) -> None:
    """The runtime joins a traceback's lines with carriage returns (as AWS's do); in a
    terminal each would send the cursor back over the error it explains."""
    name = deploy(probe_zip())
    payload = json.dumps({"action": "fail", "message": "cli traceback"})

    def raw(*args: str) -> subprocess.CompletedProcess[bytes]:  # bytes: no newline translation
        return subprocess.run(
            [LAMBDAD, *args], env=client_env(lambdad), capture_output=True, timeout=60, check=False
        )

    invoked = raw("invoke", name, "-p", payload, "--tail")
    assert invoked.returncode == 1
    tail = invoked.stderr.decode()
    report = next(line for line in tail.split("\n") if line.startswith("REPORT"))
    wait_for_log(lambdad, name, report)
    logged = raw("logs", name)
    assert logged.returncode == 0, logged.stderr
    for printed in (tail, logged.stdout.decode()):
        assert "\r" not in printed
        lines = printed.split("\n")
        error = next(i for i, line in enumerate(lines) if "ValueError: cli traceback" in line)
        assert lines[error + 1] == "Traceback (most recent call last):", printed


def test_logs_of_a_function_that_never_ran(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip())
    proc = run("logs", name, env=client_env(lambdad))
    assert proc.returncode == 1
    assert f"no logs for {name} yet" in proc.stderr


def test_logs_reads_the_group_the_logging_config_names(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    group = f"/custom/{uuid.uuid4().hex[:8]}"
    name = deploy(probe_zip(), LoggingConfig={"LogGroup": group})
    payload = json.dumps({"action": "say", "lines": ["custom-group-line"]})
    invoked = run("invoke", name, "-p", payload, "--tail", env=client_env(lambdad))
    report = next(line for line in invoked.stderr.splitlines() if line.startswith("REPORT"))
    deadline = time.monotonic() + 10
    while True:  # log lines are written off the invoke path
        proc = run("logs", name, env=client_env(lambdad))
        if report in proc.stdout.splitlines() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert proc.returncode == 0, proc.stderr
    assert "custom-group-line" in proc.stdout.splitlines()
    assert report in proc.stdout.splitlines()
    # AWS names the function in a custom group's streams (functions may share the group).
    streams = lambdad.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"].split("/")[3].split("[")[0] for s in streams] == [name]


def follow_logs(server: LambdadServer, name: str) -> subprocess.Popen[bytes]:
    """``lambdad logs NAME --follow`` started as a background job starts (``cmd &`` in a
    shell without job control): with SIGINT ignored. It must stop on SIGINT anyway."""
    return subprocess.Popen(
        [LAMBDAD, "logs", name, "--follow"],
        env=client_env(server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def test_logs_follow_prints_new_lines_as_they_come(
    lambdad: LambdadServer, deploy: Deployer
) -> None:
    name = deploy(probe_zip())
    proc = follow_logs(lambdad, name)
    try:
        for word in ("first-followed", "second-followed"):
            payload = json.dumps({"action": "say", "lines": [word]})
            assert run("invoke", name, "-p", payload, env=client_env(lambdad)).returncode == 0
            assert word in read_until(proc, word), f"{word} never printed"
        assert proc.poll() is None, "--follow keeps running"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_logs_follow_stops_on_sigterm(lambdad: LambdadServer, deploy: Deployer) -> None:
    name = deploy(probe_zip())
    proc = follow_logs(lambdad, name)
    try:
        payload = json.dumps({"action": "say", "lines": ["before-sigterm"]})
        assert run("invoke", name, "-p", payload, env=client_env(lambdad)).returncode == 0
        assert "before-sigterm" in read_until(proc, "before-sigterm")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert b"Traceback" not in err


def test_logs_of_a_function_that_does_not_exist_say_so(lambdad: LambdadServer) -> None:
    """A typo: not a silent wait (following waits, for a function about to be made)."""
    name = f"no-such-function-{uuid.uuid4().hex[:8]}"
    proc = run("logs", name, env=client_env(lambdad))
    assert proc.returncode == 1
    assert f"function {name} does not exist" in proc.stderr
    follow = subprocess.Popen(
        [LAMBDAD, "logs", name, "--follow"],
        env=client_env(lambdad),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        said = read_until(follow, "Ctrl-C to stop", timeout=30)
        assert f"function {name} does not exist (yet): waiting for its log group" in said
        follow.send_signal(signal.SIGINT)
        assert follow.wait(10) == 0
    finally:
        follow.kill()
        follow.communicate()


# -- ls -------------------------------------------------------------------------------------


def test_ls_lists_the_functions_in_a_table(lambdad: LambdadServer, deploy: Deployer) -> None:
    names = [deploy(probe_zip(), MemorySize=256), deploy(probe_zip(), runtime="python3.13")]
    proc = run("ls", env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    lines = [line.replace("┃", "│") for line in proc.stdout.splitlines()]
    rows = {line.split("│")[1].strip(): line for line in lines if "│" in line}
    assert "Name" in rows
    assert "Runtime" in rows["Name"]
    for name in names:
        assert name in rows, proc.stdout
    assert "256 MB" in rows[names[0]]
    assert "python3.12" in rows[names[0]]
    assert "python3.13" in rows[names[1]]
    listed = json.loads(run("ls", "--json", env=client_env(lambdad)).stdout)
    assert set(names) <= {f["FunctionName"] for f in listed}


def test_ls_in_an_empty_region(lambdad: LambdadServer) -> None:
    proc = run("ls", env=client_env(lambdad, AWS_REGION="eu-north-1"))
    assert proc.returncode == 0, proc.stderr
    assert "no functions in eu-north-1" in proc.stdout


# -- serve ----------------------------------------------------------------------------------


def test_a_second_serve_says_why_and_leaves_the_first_alone(
    lambdad: LambdadServer, tmp_path: Path
) -> None:
    """`make serve` run twice: the second stops at once, saying why, before it opens the
    data directory (it would clean up the first one's cgroups and environments)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    same_dir = run("serve", "--data-dir", str(lambdad.data_dir), "--port", "0", env=env)
    assert same_dir.returncode == 1
    assert f"is using {lambdad.data_dir}: stop it first" in same_dir.stderr
    assert "listening" not in same_dir.stdout
    same_port = run(
        "serve", "--data-dir", str(tmp_path / "d"), "--port", str(lambdad.port), env=env
    )
    assert same_port.returncode == 1
    assert f"127.0.0.1:{lambdad.port} is in use" in same_port.stderr
    assert "listening" not in same_port.stdout
    assert lambdad.client("lambda").list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200
