"""``lambdad deploy``'s arguments: parameter overrides as SAM CLI and the AWS CLI take
them, and the local code a template names."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from lambdad.cli.deploy import _with_hint, overrides
from lambdad.cli.package import local_code


def test_parameter_overrides_in_every_spelling() -> None:
    got = overrides(("A=1 B='two words'", "ParameterKey=C,ParameterValue=x=y", "D="))
    assert got == [
        {"ParameterKey": "A", "ParameterValue": "1"},
        {"ParameterKey": "B", "ParameterValue": "two words"},
        {"ParameterKey": "C", "ParameterValue": "x=y"},
        {"ParameterKey": "D", "ParameterValue": ""},
    ]
    with pytest.raises(click.BadParameter):
        overrides(("novalue",))


def test_local_code_of_a_template() -> None:
    doc = {
        "Globals": {"Function": {"CodeUri": "shared/"}},
        "Resources": {
            "A": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "a/"}},
            "B": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "C": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x"}},
            "D": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k"}},
            "L": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layer"}},
            "F": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "f.zip"}},
            "G": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}},
        },
    }
    base = Path("/t")
    found = [(member, str(path), names) for _, member, path, names in local_code(doc, base)]
    assert found == [
        ("CodeUri", "/t/a", ("Bucket", "Key")),
        ("CodeUri", "/t/shared", ("Bucket", "Key")),
        ("ContentUri", "/t/layer", ("Bucket", "Key")),
        ("Code", "/t/f.zip", ("S3Bucket", "S3Key")),
    ]


def test_parameter_overrides_unquoted_as_sam_cli_takes_them() -> None:
    from click.testing import CliRunner

    from lambdad.cli.nargs_option import GreedyOption

    @click.command()
    @click.argument("template", default="template.yaml")
    @click.option("--parameter-overrides", cls=GreedyOption, multiple=True)
    @click.option("--stack-name")
    def cmd(template: str, parameter_overrides: tuple[str, ...], stack_name: str) -> None:
        click.echo(repr((template, parameter_overrides, stack_name)))

    def run(*args: str) -> str:
        result = CliRunner().invoke(cmd, list(args))
        assert result.exit_code == 0, result.output
        return result.output.strip()

    assert run("--parameter-overrides", "A=1", "B=two words", "--stack-name", "s", "t.yaml") == (
        repr(("t.yaml", ("A=1", "B=two words"), "s"))
    )
    assert run("--parameter-overrides", "A=1 B=2", "t.yaml") == repr(("t.yaml", ("A=1 B=2",), None))
    assert run("--parameter-overrides", "A=1", "--parameter-overrides", "B=2") == (
        repr(("template.yaml", ("A=1", "B=2"), None))
    )


def test_a_refused_plan_says_which_option_helps() -> None:
    missing = "ValidationError: Parameters: ['Stage'] must have values"
    assert _with_hint(missing, False).endswith("--parameter-overrides KEY=VALUE ...)")
    unsupported = "ValidationError: Template contains resource types lambdad does not support: X"
    assert "--allow-unsupported deploys the rest" in _with_hint(unsupported, False)
    assert _with_hint("ValidationError: other", False) == "ValidationError: other"
