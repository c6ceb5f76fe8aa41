"""An image function's environment, made from the .zip blueprint of its version."""

from __future__ import annotations

from pathlib import Path

from lambdad.environments.code import entrypoint_problem
from lambdad.environments.environment import EnvironmentConfig
from lambdad.environments.image_env import image_environment
from lambdad.model.image_config import ImageOverrides, ImageRun, ImageSettings
from lambdad.sandbox.base import SandboxSpec

ZIP_SPEC = SandboxSpec(
    env_id="e1",
    argv=("/var/runtime/bootstrap",),
    env={
        "PATH": "/var/lang/bin:/usr/bin",
        "AWS_EXECUTION_ENV": "AWS_Lambda_",
        "_HANDLER": "",
        "LAMBDAD_OPT_DIR": "/opt",
        "GREETING": "function",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
    },
    task_dir=Path("/var/task"),
    runtime_dir=Path("/var/runtime"),
    opt_dir=Path("/data/opt/x"),
)
CONFIG = EnvironmentConfig(
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
    version="$LATEST",
    memory_mb=128,
    timeout_s=3.0,
    init_timeout_s=10.0,
    log_group="/aws/lambda/f",
    log_stream="s",
    account="123456789012",
    region="us-east-1",
    runtime_version="provided:latest.v1",
    runtime_version_arn="arn",
)
SETTINGS = ImageSettings(
    env=(("GREETING", "image"), ("PATH", "/image/bin"), ("ONLY_IMAGE", "1")),
    entrypoint=("/entry",),
    cmd=("app.handler",),
    workdir="/var/task",
)


def test_the_image_is_the_root_and_its_settings_apply() -> None:
    run = ImageRun("sha256:" + "c" * 64, "1/app", ImageOverrides(working_directory="/tmp"))
    spec, config = image_environment(
        ZIP_SPEC, CONFIG, run, SETTINGS, Path("/data/images/c/rootfs"), {"GREETING": "function"}
    )
    assert spec.root_dir == Path("/data/images/c/rootfs")
    assert spec.argv == ("/entry", "app.handler")
    assert spec.workdir == "/tmp"
    assert spec.opt_dir is None
    assert spec.env["GREETING"] == "function"
    assert spec.env["PATH"] == "/image/bin"
    assert spec.env["ONLY_IMAGE"] == "1"
    assert spec.env["AWS_EXECUTION_ENV"] == "AWS_Lambda_Image"
    assert spec.env["_HANDLER"] == "app.handler"
    assert "LAMBDAD_OPT_DIR" not in spec.env
    assert (config.runtime_version, config.runtime_version_arn) == ("", "")
    assert entrypoint_problem(spec) is None


def test_an_image_with_nothing_to_run_is_an_invalid_entrypoint() -> None:
    spec, _ = image_environment(
        ZIP_SPEC, CONFIG, ImageRun("d", "r"), ImageSettings(), Path("/r"), {}
    )
    assert spec.argv == ()
    assert entrypoint_problem(spec) == "No command specified: the image has no ENTRYPOINT or CMD"
