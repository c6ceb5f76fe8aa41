"""An environment's blueprint: a debugged one's (``lambdad dev --debug``), and its log stream."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from lambdad.config import Settings
from lambdad.environments.blueprint import DEBUG_TIMEOUT_S, DEBUGPY_DIR, Parts, blueprint
from lambdad.model.scope import Scope
from lambdad.model.version import from_configuration
from lambdad.runtimes.table import DEBUG_PORT_VARIABLE, DEBUGPY_PATH_VARIABLE, Launch
from lambdad.sandbox import zygote_wire
from lambdad.sandbox.bwrap_plan import Tools, bwrap_argv, rewrite


def _rv(runtime: str) -> object:
    return from_configuration(
        Scope("123456789012", "us-east-1"),
        "fn",
        "$LATEST",
        {"Runtime": runtime, "Handler": "app.handler", "Timeout": 3},
        code_sha256_hex="ab" * 32,
        environment={"NODE_OPTIONS": "--enable-source-maps"},
    )


def _parts(family: str, port: int | None) -> Parts:
    return Parts(
        env_id="e1",
        launch=Launch(family, None, (family,)),
        task_dir=Path("/srv/code/ab"),
        opt_dir=None,
        date=date(2026, 1, 1),
        network="isolated",
        debug_port=port,
    )


def test_python_waits_for_debugpy_with_no_timeout() -> None:
    pytest.importorskip("debugpy")
    spec, config = blueprint(_rv("python3.12"), Settings(), _parts("python", 5678))  # type: ignore[arg-type]
    assert spec.env[DEBUG_PORT_VARIABLE] == "5678"
    assert config.timeout_s == config.init_timeout_s == DEBUG_TIMEOUT_S
    assert config.debug_port == 5678
    ((package, inside),) = spec.extra_ro
    assert inside == f"{DEBUGPY_DIR}/debugpy"
    # Inside the sandbox the path names the mounted package's parent.
    assert rewrite(spec, spec.env[DEBUGPY_PATH_VARIABLE]) == f"{DEBUGPY_DIR}/debugpy/.."
    argv = bwrap_argv(Tools("bwrap", "setpriv", "unshare"), spec, "isolated", 3, 4, 1000)
    assert ["--ro-bind", str(package), inside] == argv[argv.index(str(package)) - 1 :][:3]
    # Never forked from a zygote: debugpy must own the interpreter from its start.
    assert zygote_wire.refusal(spec.env) == "a debugger is attached"


def test_node_gets_the_inspector_beside_its_own_options() -> None:
    spec, _ = blueprint(_rv("nodejs20.x"), Settings(), _parts("nodejs", 9229))  # type: ignore[arg-type]
    assert spec.env["NODE_OPTIONS"] == "--enable-source-maps --inspect-brk=127.0.0.1:9229"
    assert spec.extra_ro == ()


def test_without_a_debugger_nothing_changes() -> None:
    spec, config = blueprint(_rv("python3.12"), Settings(), _parts("python", None))  # type: ignore[arg-type]
    assert DEBUG_PORT_VARIABLE not in spec.env
    assert config.timeout_s == 3
    assert config.debug_port is None


def test_a_custom_log_groups_streams_name_the_function() -> None:
    # AWS: YYYY/MM/DD/<function_name>[<version>]<id> in a group functions may share.
    rv = _rv("python3.12")
    _, own = blueprint(rv, Settings(), _parts("python", None))  # type: ignore[arg-type]
    assert own.log_stream == "2026/01/01/[$LATEST]e1"
    shared = dataclasses.replace(rv, log_group="/my/app")  # type: ignore[type-var]
    spec, custom = blueprint(shared, Settings(), _parts("python", None))
    assert custom.log_stream == "2026/01/01/fn[$LATEST]e1"
    assert spec.env["AWS_LAMBDA_LOG_STREAM_NAME"] == custom.log_stream
