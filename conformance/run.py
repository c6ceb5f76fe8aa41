"""Run moto's own Lambda test-suite against lambdad (``make conformance``).

moto's tests in server mode send every call to one endpoint. Here that endpoint is
a router (``router.py``) in front of two servers: Lambda and Logs calls go to
lambdad, everything else (IAM, S3, SQS, ``/moto-api``) to a ``moto_server``. lambdad
fetches ``Code.S3Bucket``/``S3Key`` from that moto_server's S3. Each ``moto-api``
reset also restarts lambdad empty, since moto's tests expect every test to start
from nothing (``--keep-state`` turns that off).

Prints passed/failed/error/skipped per test file and writes every test's outcome,
with the lambdad requests of those that did not pass, to ``.work/results.json``.
Conformance is a report, not a gate: the exit status is 0 whatever the tests do, and
non-zero only when the harness itself could not run them.

    .venv/bin/python conformance/run.py [--docker] [--timeout S] [--keep-state]
        [--frozen-signing] [--baseline] [-- PYTEST ARGS]

See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

import report
import sources
from processes import LOOPBACK, HarnessError, Lambdad, ServerProcess, free_port
from router import LAMBDAD_SERVICES, Router, RouterThread

HERE = Path(__file__).resolve().parent
MOTO_VERSION = "5.2.5"
TEST_DIR = "tests/test_awslambda"

# What moto's mock_aws puts in the environment, and moto's DEFAULT_ACCOUNT_ID.
ACCESS_KEY_ID = "FOOBARKEY"
SECRET_ACCESS_KEY = "FOOBARSECRET"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# Pytest exit statuses that mean the tests ran (1: some failed, 5: none selected).
_TESTS_RAN = (0, 1, 5)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run moto's Lambda tests against lambdad.",
        epilog="Arguments after -- go to pytest, e.g. -- -k test_create_function",
    )
    parser.add_argument(
        "--docker",
        action="store_true",
        help="also run the tests moto marks requires_docker (lambdad runs the functions)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="per-test timeout in seconds [120]"
    )
    parser.add_argument(
        "--keep-state",
        action="store_true",
        help="do not restart lambdad empty on each moto-api reset",
    )
    parser.add_argument(
        "--frozen-signing",
        action="store_true",
        help="let freeze_time() reach botocore's signing clock, as in moto's own runs",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="send Lambda calls to moto too: shows what fails because of the harness",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=HERE / ".work", help="cache and output [conformance/.work]"
    )
    own, _, pytest_args = _split_at_dashes(list(argv))
    args = parser.parse_args(own)
    args.pytest_args = pytest_args
    return args


def _split_at_dashes(argv: list[str]) -> tuple[list[str], bool, list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], True, argv[at + 1 :]
    return argv, False, []


def base_environment() -> dict[str, str]:
    """The harness's environment less anything that would point AWS clients elsewhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key.lower() not in ("http_proxy", "https_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def aws_environment() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }


def _executable(name: str) -> Path:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise HarnessError(f"{path} not found: run `make install` first")
    return path


def pytest_command(
    tests_root: Path, junit: Path, timeout: float, extra: Sequence[str]
) -> list[str]:
    # A node id or path among the extra arguments replaces the default selection.
    selection = [] if any(a.startswith("tests/") for a in extra) else [TEST_DIR]
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(tests_root / "pytest.ini"),
        "--rootdir",
        str(tests_root),
        "-p",
        "no:cacheprovider",
        "-p",
        "harness_plugin",
        f"--timeout={timeout:g}",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
        "-q",
        "-rfE",
        "--color=no",
        *selection,
        *extra,
    ]


def run_pytest(command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path) -> int:
    """Run pytest, echoing its output to the terminal and to ``log_path``."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                log_file.write(line)
            return process.wait()
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def conformance(args: argparse.Namespace) -> int:
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    tests_root = sources.moto_tests(work, MOTO_VERSION)
    pydeps = sources.extra_packages(work)
    junit = work / "junit.xml"
    junit.unlink(missing_ok=True)

    env = base_environment()
    moto_port = free_port()
    moto = ServerProcess(
        "moto_server",
        [str(_executable("moto_server")), "-p", str(moto_port)],
        port=moto_port,
        env=env,
        log_path=work / "moto_server.log",
    )
    lambdad = Lambdad(
        _executable("lambdad"),
        env={
            **env,
            **aws_environment(),
            "LAMBDAD_CREDENTIALS": f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}:{ACCOUNT_ID}",
            "AWS_ENDPOINT_URL_S3": f"http://{LOOPBACK}:{moto_port}",
            # moto's tests put code in its S3 as the one account: lambdad fetches it with
            # its own identity (moto's keys) only for accounts the operator trusts.
            "LAMBDAD_OUTBOUND_TRUSTED_ACCOUNTS": ACCOUNT_ID,
        },
        log_path=work / "lambdad.log",
    )
    for stale in (moto.log_path, lambdad.log_path):
        stale.unlink(missing_ok=True)

    async def reset_lambdad() -> tuple[str, int]:
        return await asyncio.to_thread(lambdad.restart)

    router_thread: RouterThread | None = None
    started = time.monotonic()
    try:
        moto.start()
        lambdad.start()
        router = Router(
            moto=(LOOPBACK, moto_port),
            lambdad=(LOOPBACK, lambdad.port),
            reset_lambdad=None if args.keep_state else reset_lambdad,
            lambdad_services=frozenset() if args.baseline else LAMBDAD_SERVICES,
        )
        router_thread = RouterThread(router)
        router_thread.start()
        endpoint = f"http://{LOOPBACK}:{router_thread.port}"
        print(f"moto_server :{moto_port}  lambdad :{lambdad.port}  router {endpoint}", flush=True)

        test_env = {
            **env,
            **aws_environment(),
            "TEST_SERVER_MODE": "true",
            "TEST_SERVER_MODE_ENDPOINT": endpoint,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(pydeps)]),
        }
        if not args.docker:
            test_env["TESTS_SKIP_REQUIRES_DOCKER"] = "true"
        if args.frozen_signing:
            test_env["CONFORMANCE_FROZEN_SIGNING"] = "1"
        command = pytest_command(tests_root, junit, args.timeout, args.pytest_args)
        status = run_pytest(command, cwd=tests_root, env=test_env, log_path=work / "pytest.log")
    finally:
        if router_thread is not None:
            router_thread.stop()
        lambdad.close()
        moto.stop()

    if router.failure is not None:
        raise HarnessError(router.failure)
    if status not in _TESTS_RAN or not junit.exists():
        raise HarnessError(f"pytest exited with status {status} without running the tests")
    outcomes = report.parse_junit(junit)
    results = work / ("results-baseline.json" if args.baseline else "results.json")
    report.write_results(
        results,
        outcomes,
        {test: [e.as_dict() for e in found] for test, found in router.exchanges.items()},
        {
            "moto_version": MOTO_VERSION,
            "docker": args.docker,
            "keep_state": args.keep_state,
            "baseline": args.baseline,
            "frozen_signing": args.frozen_signing,
            "pytest_args": list(args.pytest_args),
            "pytest_status": status,
            "lambdad_restarts": lambdad.restarts,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    print()
    print(report.table(outcomes) if outcomes else "no tests ran")
    print(f"\nper-test outcomes: {results}")
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the clean-up in conformance()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return conformance(args)
    except HarnessError as exc:
        print(f"conformance harness failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
