"""The ``lambdad`` group itself: what a newcomer types first."""

from __future__ import annotations

from click.testing import CliRunner

from lambdad import __version__
from lambdad.cli.main import main


def test_version_prints_the_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"lambdad, version {__version__}\n"


def test_dev_takes_what_deploy_takes_for_a_template() -> None:
    result = CliRunner().invoke(main, ["dev", "--help"])
    assert result.exit_code == 0, result.output
    assert "--parameter-overrides" in result.output
    assert "--allow-unsupported" in result.output


def test_help_says_how_to_start() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "lambdad serve" in result.output
    assert 'eval "$(lambdad credentials)"' in result.output
