"""The planner: intrinsics, conditions, order and the diff against a deployment."""

from __future__ import annotations

from typing import Any

import pytest

from lambdad.deploy import template
from lambdad.deploy.errors import UnsupportedResources, ValidationError
from lambdad.deploy.intrinsics import Deferred
from lambdad.deploy.parameters import StackIdentity
from lambdad.deploy.plan import Action, Plan, plan
from lambdad.deploy.records import ResourceRecord

ID = StackIdentity(
    "123456789012", "eu-west-1", "s", "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/x"
)


def _plan(
    doc: dict[str, Any], given: dict[str, str] | None = None, previous: Any = None, **kw: Any
) -> Plan:
    return plan(template.read(doc), given or {}, ID, previous or {}, **kw)


def _fn(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.11", **props}}


def test_order_follows_references_and_depends_on() -> None:
    doc = {
        "Resources": {
            "Alias": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Name": "live",
                    "FunctionVersion": {"Fn::GetAtt": ["Ver", "Version"]},
                },
            },
            "Ver": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Fn": _fn(Role={"Fn::GetAtt": "Role.Arn"}),
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}, "DependsOn": "Other"},
            "Other": {"Type": "AWS::IAM::Role", "Properties": {}},
        }
    }
    p = _plan(doc)
    assert [s.logical_id for s in p.steps] == ["Other", "Role", "Fn", "Ver", "Alias"]
    assert all(s.action is Action.CREATE for s in p.steps)
    # Attributes of resources still to create are completed by the executor.
    assert p.steps[2].properties["Role"] == Deferred({"Fn::GetAtt": "Role.Arn"})


def test_cycle_is_refused() -> None:
    doc = {"Resources": {"A": _fn(Description={"Ref": "B"}), "B": _fn(Description={"Ref": "A"})}}
    with pytest.raises(ValidationError, match="Circular dependency"):
        _plan(doc)


def test_intrinsics_over_parameters_and_pseudo_parameters() -> None:
    doc = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
            "Sizes": {"Type": "CommaDelimitedList", "Default": "128,256"},
        },
        "Mappings": {"M": {"dev": {"Timeout": 3}}},
        "Resources": {
            "Fn": _fn(
                Description={"Fn::Sub": "${AWS::StackName}-${Stage}-${AWS::Region}-${!Literal}"},
                Handler={"Fn::Join": [".", ["app", {"Ref": "AWS::Partition"}]]},
                MemorySize={"Fn::Select": [1, {"Ref": "Sizes"}]},
                Timeout={"Fn::FindInMap": ["M", {"Ref": "Stage"}, "Timeout"]},
                Layers={
                    "Fn::Split": [",", {"Fn::Sub": ["a,${X}", {"X": {"Ref": "AWS::AccountId"}}]}]
                },
                KmsKeyArn={"Ref": "AWS::NoValue"},
                Tags=[{"Key": "url", "Value": {"Ref": "AWS::URLSuffix"}}, {"Ref": "AWS::NoValue"}],
            )
        },
    }
    props = _plan(doc, {"Stage": "dev"}).steps[0].properties
    assert props is not None
    assert props["Description"] == "s-dev-eu-west-1-${Literal}"
    assert props["Handler"] == "app.aws"
    assert props["MemorySize"] == "256"
    assert props["Timeout"] == 3
    assert props["Layers"] == ["a", "123456789012"]
    assert "KmsKeyArn" not in props
    assert props["Tags"] == [{"Key": "url", "Value": "amazonaws.com"}]


def test_parameters_are_checked() -> None:
    doc = {
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": ["dev"]}},
        "Resources": {"Fn": _fn()},
    }
    with pytest.raises(ValidationError, match=r"\['Stage'\] must have values"):
        _plan(doc)
    with pytest.raises(ValidationError, match="AllowedValues"):
        _plan(doc, {"Stage": "prod"})
    with pytest.raises(ValidationError, match="do not exist"):
        _plan(doc, {"Stage": "dev", "Nope": "1"})


def test_conditions_choose_resources_values_and_outputs() -> None:
    doc = {
        "Parameters": {"Env": {"Type": "String", "Default": "prod"}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Both": {
                "Fn::And": [
                    {"Condition": "IsProd"},
                    {"Fn::Or": [{"Condition": "NotProd"}, {"Fn::Equals": ["1", 1]}]},
                ]
            },
        },
        "Resources": {
            "Fn": _fn(
                MemorySize={"Fn::If": ["IsProd", 1024, 128]},
                Description={"Fn::If": ["NotProd", "x", {"Ref": "AWS::NoValue"}]},
            ),
            "Dev": {**_fn(), "Condition": "NotProd"},
        },
        "Outputs": {
            "Mem": {"Value": {"Fn::If": ["Both", "both", "no"]}},
            "DevOnly": {"Value": "d", "Condition": "NotProd"},
        },
    }
    p = _plan(doc)
    assert [s.logical_id for s in p.steps] == ["Fn"]
    assert p.steps[0].properties == {"Runtime": "python3.11", "MemorySize": 1024}
    assert p.outputs == {"Mem": ("both", None)}
    p = _plan(doc, {"Env": "dev"})
    assert [s.logical_id for s in p.steps] == ["Fn", "Dev"]


def test_unsupported_types_are_listed_or_skipped_on_request() -> None:
    doc = {
        "Resources": {
            "Fn": _fn(),
            "Api": {"Type": "AWS::Fancy::Api", "Properties": {}},
            "Perm": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {"SourceArn": {"Fn::Sub": "arn:${Api}"}},
            },
        }
    }
    with pytest.raises(UnsupportedResources) as info:
        _plan(doc)
    assert info.value.unsupported == {"AWS::Fancy::Api": ["Api"]}
    p = _plan(doc, skip_unsupported=True)
    assert [s.logical_id for s in p.steps] == ["Fn"]
    assert set(p.skipped) == {"Api", "Perm"}


def _record(lid: str, type_: str, props: dict[str, Any], **attrs: Any) -> ResourceRecord:
    return ResourceRecord(lid, type_, f"phys-{lid}", props, attrs)


def test_diff_against_previous_deployment() -> None:
    doc = {
        "Resources": {
            "Fn": _fn(Handler="app.h", Code={"ZipFile": "v2"}),
            "Ver2": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(1 minute)",
                    "Targets": [{"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "Id": "t"}],
                },
            },
        }
    }
    previous = {
        "Old": _record("Old", "AWS::Lambda::Function", {}),
        "Fn": _record(
            "Fn",
            "AWS::Lambda::Function",
            {"Runtime": "python3.11", "Handler": "app.h", "Code": {"ZipFile": "v1"}},
            Ref="fn-name",
            Arn="arn:fn",
        ),
        "Ver": _record(
            "Ver", "AWS::Lambda::Version", {"FunctionName": "fn-name"}, Ref="arn:fn:1", Version="1"
        ),
        "Rule": _record(
            "Rule",
            "AWS::Events::Rule",
            {"ScheduleExpression": "rate(1 minute)", "Targets": [{"Arn": "arn:fn", "Id": "t"}]},
            Ref="r",
            Arn="arn:rule",
        ),
    }
    p = _plan(doc, previous=previous)
    actions = {s.logical_id: s.action for s in p.steps}
    # The code changed: the function is updated in place, its ARN stays, so the rule
    # that targets it is unchanged; the version of the new code (a new logical id, as
    # SAM's AutoPublishAlias names it) is created and the old one removed.
    assert actions == {
        "Fn": Action.UPDATE,
        "Ver2": Action.CREATE,
        "Rule": Action.UNCHANGED,
        "Old": Action.DELETE,
        "Ver": Action.DELETE,
    }
    deletes = [s for s in p.steps if s.action is Action.DELETE]
    assert [s.logical_id for s in deletes] == ["Ver", "Old"]
    last = p.steps[-1].previous
    assert last is not None
    assert last.physical_id == "phys-Old"


def test_immutable_resource_is_replaced_and_old_deleted_last() -> None:
    doc = {"Resources": {"P": {"Type": "AWS::Lambda::Permission", "Properties": {"Action": "b"}}}}
    previous = {"P": _record("P", "AWS::Lambda::Permission", {"Action": "a"}, Ref="sid")}
    p = _plan(doc, previous=previous)
    assert [(s.logical_id, s.action) for s in p.steps] == [
        ("P", Action.REPLACE),
        ("P", Action.DELETE),
    ]


def test_unchanged_template_plans_no_changes() -> None:
    doc = {"Resources": {"Fn": _fn(Handler="app.h")}}
    previous = {
        "Fn": _record(
            "Fn", "AWS::Lambda::Function", {"Runtime": "python3.11", "Handler": "app.h"}, Ref="n"
        )
    }
    assert _plan(doc, previous=previous).changes == ()


def test_yaml_short_forms() -> None:
    doc = template.parse_body(
        "AWSTemplateFormatVersion: 2010-09-09\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n"
        "    Properties:\n      Description: !Sub '${AWS::Region}'\n      Role: !GetAtt R.Arn\n"
        "      Handler: !Join ['.', [a, !Ref AWS::AccountId]]\n"
        "  R:\n    Type: AWS::IAM::Role\n"
    )
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"
    fn = doc["Resources"]["Fn"]["Properties"]
    assert fn["Role"] == {"Fn::GetAtt": ["R", "Arn"]}
    assert fn["Handler"] == {"Fn::Join": [".", ["a", {"Ref": "AWS::AccountId"}]]}


def test_unknown_reference_is_a_template_error() -> None:
    with pytest.raises(ValidationError, match=r"Unresolved resource dependencies \[Nope\]"):
        _plan({"Resources": {"Fn": _fn(Role={"Fn::GetAtt": ["Nope", "Arn"]})}})


def test_get_att_of_an_attribute_the_type_lacks() -> None:
    doc = {"Resources": {"Fn": _fn(), "R": _fn(Description={"Fn::Sub": "${Fn.Nope}"})}}
    with pytest.raises(ValidationError, match="Fn does not support attribute type Nope"):
        _plan(doc)


def test_outputs_of_skipped_resources_are_listed_as_skipped() -> None:
    doc = {
        "Resources": {"Fn": _fn(), "Api": {"Type": "AWS::Fancy::Api", "Properties": {}}},
        "Outputs": {
            "Url": {"Value": {"Fn::Sub": "https://${Api}/"}},
            "Fn": {"Value": {"Ref": "Fn"}},
        },
    }
    p = _plan(doc, skip_unsupported=True)
    assert set(p.outputs) == {"Fn"}
    assert p.skipped["Outputs.Url"] == "refers to Api, which is skipped"
