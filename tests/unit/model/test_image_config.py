"""What an image's environment runs: command line, working directory, variables."""

from __future__ import annotations

from lambdad.model.image_config import (
    ImageOverrides,
    ImageSettings,
    command_line,
    handler_of,
    merge_environment,
    parse_image_settings,
    working_directory,
)

IMAGE = ImageSettings(
    env=(("PATH", "/image/bin"), ("MODE", "image"), ("AWS_REGION", "xx-image-1")),
    entrypoint=("/lambda-entrypoint.sh",),
    cmd=("app.handler",),
    workdir="/var/task",
)


def test_parse_reads_the_config_member() -> None:
    doc = {
        "config": {
            "Env": ["A=1", "B=x=y", "broken", "=v", "BAD-NAME=1", "NUL=a\0b"],
            "Entrypoint": ["/e"],
            "Cmd": ["c"],
            "WorkingDir": "/w",
        }
    }
    assert parse_image_settings(doc) == ImageSettings(
        (("A", "1"), ("B", "x=y")), ("/e",), ("c",), "/w"
    )
    assert parse_image_settings({}) == ImageSettings()


def test_image_config_overrides_each_setting_on_its_own() -> None:
    none = ImageOverrides()
    assert command_line(IMAGE, none) == ("/lambda-entrypoint.sh", "app.handler")
    assert working_directory(IMAGE, none) == "/var/task"
    only_entry = ImageOverrides(entrypoint=("/wrap",))
    assert command_line(IMAGE, only_entry) == ("/wrap", "app.handler")
    command = ImageOverrides.from_config({"Command": ["other.h"], "WorkingDirectory": "/tmp"})
    assert command_line(IMAGE, command) == ("/lambda-entrypoint.sh", "other.h")
    assert handler_of(IMAGE, command) == "other.h"
    assert working_directory(IMAGE, command) == "/tmp"
    assert command_line(IMAGE, ImageOverrides(command=())) == ("/lambda-entrypoint.sh",)
    assert working_directory(ImageSettings(), none) == ""  # refused at init, as AWS does


def test_variables_image_under_function_under_lambda() -> None:
    platform = {
        "PATH": "/var/lang/bin:/usr/bin",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "MODE": "function",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
    }
    env = merge_environment(IMAGE, {"MODE": "function"}, platform)
    # The image's PATH wins over Lambda's default, its AWS_REGION does not.
    assert env["PATH"] == "/image/bin"
    assert env["TZ"] == ":UTC"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["MODE"] == "function"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "f"
    # A function's own PATH wins over the image's.
    assert merge_environment(IMAGE, {"PATH": "/mine"}, {**platform, "PATH": "/mine"})["PATH"] == (
        "/mine"
    )
