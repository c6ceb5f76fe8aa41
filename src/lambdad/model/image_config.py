"""What a container image's environment runs: its command line, working directory and
variables, from the image's own configuration and the function's ``ImageConfig``.

- Command line: ``ENTRYPOINT`` followed by ``CMD``; the function's ``ImageConfig``
  ``EntryPoint`` replaces the image's ENTRYPOINT and ``Command`` its CMD, each on its
  own (Lambda documents them as overrides of the one setting each; Docker's
  ``--entrypoint`` also drops the image's CMD, Lambda's does not say so, and keeping it
  keeps an AWS base image's handler when only the entry point is wrapped).
- Working directory: ``ImageConfig.WorkingDirectory``, else the image's ``WORKDIR``,
  else ``/`` (Docker's default).
- Variables: the image's ``ENV`` under the function's own variables, under the ones
  Lambda reserves. ``PATH``, ``LANG``, ``LD_LIBRARY_PATH``, ``LAMBDA_TASK_ROOT`` and
  ``LAMBDA_RUNTIME_DIR`` are the image's when it sets them (AWS's base images do, to
  their own layout), Lambda's defaults otherwise.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Variables an image may set for itself: Lambda's value only where the image has none.
IMAGE_OWNED = frozenset(
    {"PATH", "LANG", "LD_LIBRARY_PATH", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ"}
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# AWS_EXECUTION_ENV of a container image function.
EXECUTION_ENV = "AWS_Lambda_Image"


@dataclass(frozen=True, slots=True)
class ImageSettings:
    """The parts of an OCI image configuration a Lambda environment uses."""

    env: tuple[tuple[str, str], ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    workdir: str = ""


@dataclass(frozen=True, slots=True)
class ImageOverrides:
    """A function's ``ImageConfig`` (None: not set)."""

    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ImageOverrides:
        config = config or {}
        entry, command = config.get("EntryPoint"), config.get("Command")
        return cls(
            tuple(str(x) for x in entry) if entry is not None else None,
            tuple(str(x) for x in command) if command is not None else None,
            str(config["WorkingDirectory"]) if config.get("WorkingDirectory") else None,
        )


@dataclass(frozen=True, slots=True)
class ImageRun:
    """What a version of an image function runs: the image (by digest, in its
    repository on the operator's registry) and the function's overrides."""

    digest: str
    repository: str
    overrides: ImageOverrides = ImageOverrides()


def parse_image_settings(doc: Mapping[str, Any]) -> ImageSettings:
    """The ``config`` member of an OCI image configuration document (absent members:
    empty). ``Env`` entries without ``=``, or whose name a shell cannot export, are
    skipped."""
    config = doc.get("config") or {}
    env: list[tuple[str, str]] = []
    for entry in config.get("Env") or ():
        name, sep, value = str(entry).partition("=")
        # Only names a shell can export (the sandbox applies them through one).
        if sep and _ENV_NAME.fullmatch(name) and "\0" not in value:
            env.append((name, value))
    return ImageSettings(
        env=tuple(env),
        entrypoint=tuple(str(x) for x in config.get("Entrypoint") or ()),
        cmd=tuple(str(x) for x in config.get("Cmd") or ()),
        workdir=str(config.get("WorkingDir") or ""),
    )


def command_line(image: ImageSettings, overrides: ImageOverrides) -> tuple[str, ...]:
    """ENTRYPOINT + CMD, each replaced by the function's override when it has one."""
    entry = overrides.entrypoint if overrides.entrypoint is not None else image.entrypoint
    cmd = overrides.command if overrides.command is not None else image.cmd
    return (*entry, *cmd)


def handler_of(image: ImageSettings, overrides: ImageOverrides) -> str:
    """``_HANDLER``: the first word of the CMD (what AWS's base images take as the
    handler), "" without one."""
    cmd = overrides.command if overrides.command is not None else image.cmd
    return cmd[0] if cmd else ""


def working_directory(image: ImageSettings, overrides: ImageOverrides) -> str:
    """The override's, else the image's WORKDIR; "" without either (which AWS refuses
    at init: ``environments/image_start.py``)."""
    return overrides.working_directory or image.workdir


def merge_environment(
    image: ImageSettings, function_env: Mapping[str, str], platform_env: Mapping[str, str]
) -> dict[str, str]:
    """The environment's variables: the image's under the function's under Lambda's.

    ``platform_env``: what Lambda sets for a .zip function (the function's own variables
    included, which it may not name reserved ones in); its ``IMAGE_OWNED`` values serve
    only where the image sets none."""
    owned = {k: v for k, v in platform_env.items() if k in IMAGE_OWNED and k not in function_env}
    reserved = {
        k: v for k, v in platform_env.items() if k not in IMAGE_OWNED and k not in function_env
    }
    return {**owned, **dict(image.env), **function_env, **reserved}
