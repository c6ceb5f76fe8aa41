"""An environment of a container image function: the blueprint of a .zip function's
(``blueprint.py``: variables, credentials, endpoints, limits) turned to the image.

The sandbox's root is the unpacked image; the runtime is the image's ENTRYPOINT + CMD
(``ImageConfig`` overriding), started in its working directory, with the image's ENV
under the function's variables under Lambda's (``model/image_config.py``). The image
brings its own runtime, so no managed runtime version is logged (no ``INIT_START``
runtime line) and ``AWS_EXECUTION_ENV`` is ``AWS_Lambda_Image``.

Pure: the pool pulls the image and hands it in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lambdad.environments.environment import EnvironmentConfig
from lambdad.model import image_config
from lambdad.model.image_config import ImageRun, ImageSettings
from lambdad.runtimes.table import Launch
from lambdad.sandbox.base import SandboxSpec

# What the .zip blueprint is given for an image function: no interpreter, no code
# directory of lambdad's (the image's /var/task is its own).
IMAGE_LAUNCH = Launch(family="image", interpreter=None, argv=())
TASK_DIR = Path("/var/task")
# Variables Lambda sets for .zip runtimes only.
NOT_FOR_IMAGES = ("LAMBDAD_OPT_DIR", "NODE_PATH")


def image_environment(
    spec: SandboxSpec,
    config: EnvironmentConfig,
    run: ImageRun,
    settings: ImageSettings,
    rootfs: Path,
    function_env: dict[str, str],
) -> tuple[SandboxSpec, EnvironmentConfig]:
    """``spec`` and ``config`` (a .zip blueprint of the version) for its image."""
    platform_env = {k: v for k, v in spec.env.items() if k not in NOT_FOR_IMAGES}
    platform_env["AWS_EXECUTION_ENV"] = image_config.EXECUTION_ENV
    platform_env["_HANDLER"] = image_config.handler_of(settings, run.overrides)
    env = image_config.merge_environment(settings, function_env, platform_env)
    spec = dataclasses.replace(
        spec,
        argv=image_config.command_line(settings, run.overrides),
        env=env,
        root_dir=rootfs,
        workdir=image_config.working_directory(settings, run.overrides),
        opt_dir=None,
        host_paths=(),
        extra_ro=(),
    )
    config = dataclasses.replace(
        config, runtime_version="", runtime_version_arn="", handler=env["_HANDLER"]
    )
    return spec, config
