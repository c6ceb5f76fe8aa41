"""Settings: precedence, and every path absolute from the start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdad.config import Settings, resolve_data_dir


def test_without_any_data_dir_it_is_dot_lambdad_in_the_working_directory() -> None:
    # As `lambdad serve` passes it when --data-dir is not given.
    settings = Settings.from_env({}, data_dir=None, port=None)
    assert settings.data_dir == Path.cwd() / ".lambdad"
    assert settings.data_dir.is_absolute()
    assert Settings().data_dir == Path.cwd() / ".lambdad"


@pytest.mark.parametrize(
    ("env", "overrides"),
    [
        ({"LAMBDAD_DATA_DIR": "relative/dir"}, {}),
        ({}, {"data_dir": "relative/dir"}),
        ({}, {"data_dir": Path("relative/dir")}),
        ({"LAMBDAD_DATA_DIR": "/elsewhere"}, {"data_dir": "relative/dir"}),
    ],
)
def test_a_relative_data_dir_is_resolved_against_the_working_directory(
    env: dict[str, str], overrides: dict[str, object]
) -> None:
    assert Settings.from_env(env, **overrides).data_dir == Path(os.getcwd(), "relative/dir")


def test_replace_keeps_paths_absolute() -> None:
    assert Settings().replace(data_dir=Path("x")).data_dir == Path.cwd() / "x"


def test_options_win_over_variables_over_defaults() -> None:
    env = {"LAMBDAD_PORT": "9999", "LAMBDAD_HOST": "0.0.0.0"}
    settings = Settings.from_env(env, port=1234, host=None)
    assert (settings.port, settings.host) == (1234, "0.0.0.0")
    assert Settings.from_env({}).port == 9550


def test_resolve_data_dir_order() -> None:
    assert resolve_data_dir("/given", {"LAMBDAD_DATA_DIR": "/elsewhere"}) == Path("/given")
    assert resolve_data_dir(None, {"LAMBDAD_DATA_DIR": "/from/env"}) == Path("/from/env")
    assert resolve_data_dir(None, {"LAMBDAD_DATA_DIR": "rel"}) == Path.cwd() / "rel"
    assert resolve_data_dir(None, {}) == Path.cwd() / ".lambdad"
