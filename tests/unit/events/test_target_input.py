"""What a rule's target receives: Input, InputPath and InputTransformer on AWS's
documented EC2 example event, the predefined variables included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdad.errors import ValidationException
from lambdad.events.target_input import check_target, render_input

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/ec2-state"
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state"}


def render(target: dict[str, Any], event: dict[str, Any] = EVENT) -> Any:
    return json.loads(render_input({"Id": "t", **target}, event, RULE_ARN, "ec2-state"))


def transform(template: str, paths: dict[str, str] = PATHS) -> Any:
    return render({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}})


def test_no_input_setting_sends_the_event_as_is() -> None:
    assert render({}) == EVENT


def test_input_is_sent_verbatim() -> None:
    assert render({"Input": '{"fixed": [1, 2]}'}) == {"fixed": [1, 2]}


def test_input_path_selects_part_of_the_event() -> None:
    assert render({"InputPath": "$.detail"}) == EVENT["detail"]
    assert render({"InputPath": "$.resources[0]"}) == EVENT["resources"][0]
    assert render({"InputPath": "$['detail-type']"}) == EVENT["detail-type"]
    assert render({"InputPath": "$"}) == EVENT
    assert render({"InputPath": "$.detail.nowhere"}) is None


def test_transformer_json_template_gets_json_values() -> None:
    assert transform('{"instance": <instance>, "state": <state>}') == {
        "instance": "i-0123456789",
        "state": "RUNNING",
    }


def test_transformer_text_template_reaches_the_function_as_a_string() -> None:
    assert transform('"instance <instance> is in <state>"') == "instance i-0123456789 is in RUNNING"
    assert transform("<instance> is in state <state>") == '"i-0123456789" is in state "RUNNING"'


def test_placeholder_inside_a_string_is_escaped_for_it() -> None:
    event = {**EVENT, "detail": {"note": 'say "hi"\n'}}
    out = render(
        {
            "InputTransformer": {
                "InputPathsMap": {"note": "$.detail.note"},
                "InputTemplate": '{"text": "note: <note>"}',
            }
        },
        event,
    )
    assert out == {"text": 'note: say "hi"\n'}


def test_missing_path_is_null_or_empty_in_a_string() -> None:
    paths = {"gone": "$.detail.gone"}
    assert transform('{"v": <gone>, "s": "[<gone>]"}', paths) == {"v": None, "s": "[]"}


def test_predefined_variables() -> None:
    out = transform(
        '{"arn": <aws.events.rule-arn>, "name": <aws.events.rule-name>,'
        ' "at": <aws.events.event.ingestion-time>, "event": <aws.events.event>,'
        ' "json": <aws.events.event.json>}',
        {},
    )
    assert out["arn"] == RULE_ARN
    assert out["name"] == "ec2-state"
    assert out["at"] == EVENT["time"]
    # aws.events.event: the event without its detail; .json: the complete event.
    assert out["event"] == {k: v for k, v in EVENT.items() if k != "detail"}
    assert out["json"] == EVENT


def test_unknown_placeholder_is_left_as_text() -> None:
    assert transform('"<other> <state>"') == "<other> RUNNING"


@pytest.mark.parametrize(
    "target",
    [
        {"Input": "{}", "InputPath": "$"},
        {"Input": "{not json"},
        {"InputPath": "detail"},
        {"InputPath": "$.a[x]"},
        {"InputTransformer": {"InputPathsMap": {"a": "$$"}, "InputTemplate": "<a>"}},
        {
            "InputTransformer": {
                "InputPathsMap": {"aws.events.rule-arn": "$.id"},
                "InputTemplate": "x",
            }
        },
    ],
)
def test_put_targets_refuses_bad_input_settings(target: dict[str, Any]) -> None:
    with pytest.raises(ValidationException):
        check_target({"Id": "t", **target})


def test_good_input_settings_pass() -> None:
    check_target({"Id": "t", "InputPath": "$.detail['instance-id']"})
    check_target({"Id": "t", "InputTransformer": {"InputPathsMap": PATHS, "InputTemplate": "x"}})
