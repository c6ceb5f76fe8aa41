"""Event patterns (lambdad.events.patterns): AWS's documented examples, errors, properties.

"EB guide" is the Amazon EventBridge User Guide, "Lambda guide" the AWS Lambda Developer
Guide's "Lambda event filtering" page; each example names the section it comes from.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lambdad.events.patterns import (
    MAX_OR_COMBINATIONS,
    MAX_PATTERN_LENGTH,
    EventPattern,
    InvalidEventPattern,
    compile_pattern,
    decode_event,
    matches,
)

# EB guide, "Amazon EventBridge event patterns": the EC2 state-change event.
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}

# event-ruler README / EB guide "Content filtering": the sample event of the examples.
RULER_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}


MIXED_ANYTHING_BUT = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)


def reason(pattern: Any) -> str:
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern(pattern)
    return info.value.reason


# --- EventBridge user guide examples -----------------------------------------------------


def test_eb_event_patterns_ec2_termination_example() -> None:
    # EB guide, "Amazon EventBridge event patterns": instance-termination events.
    pattern = {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]},
    }
    assert matches(pattern, EC2_EVENT)
    assert not matches(pattern, {**EC2_EVENT, "detail": {"state": "running"}})
    # "the event must contain all the field names listed in the event pattern"
    assert not matches(pattern, {k: v for k, v in EC2_EVENT.items() if k != "source"})


def test_eb_match_values_source_is_either_value() -> None:
    # EB guide, "Match Values": EC2 or Fargate.
    pattern = {"source": ["aws.ec2", "aws.fargate"]}
    assert matches(pattern, {"source": "aws.fargate"})
    assert matches(pattern, {"source": "aws.ec2"})
    assert not matches(pattern, {"source": "aws.s3"})


def test_eb_field_matching_macie_severity_and_count() -> None:
    # EB guide, "Value matching": Macie finding with severity score 1 and count 2.
    event = {
        "source": "aws.macie",
        "detail-type": "Macie Finding",
        "detail": {"severity": {"score": 1, "description": "Low"}, "count": 2},
    }
    pattern = {
        "source": ["aws.macie"],
        "detail-type": ["Macie Finding"],
        "detail": {"severity": {"score": [1]}, "count": [2]},
    }
    assert matches(pattern, event)
    assert not matches(pattern, {**event, "detail": {"severity": {"score": 2}, "count": 2}})


def test_eb_null_values_and_empty_strings() -> None:
    # EB guide, "Matching null values and empty strings".
    event = {
        "source": "aws.autoscaling",
        "resources": [],
        "detail": {"eventVersion": "", "responseElements": None},
    }
    assert matches({"detail": {"eventVersion": [""]}}, event)
    assert matches({"detail": {"responseElements": [None]}}, event)
    # "Null values and empty strings are not interchangeable in pattern matching."
    assert not matches({"detail": {"eventVersion": [None]}}, event)
    assert not matches({"detail": {"responseElements": [""]}}, event)


def test_eb_arrays_intersection_of_pattern_and_event_arrays() -> None:
    # EB guide, "Arrays in Amazon EventBridge event patterns".
    pattern = {
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
        ]
    }
    event = {
        "resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-"
            "b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        ]
    }
    assert matches(pattern, event)
    assert not matches(pattern, {"resources": event["resources"][:1]})


def test_eb_prefix_matching_time() -> None:
    # EB guide, "Content filtering", Prefix matching.
    pattern = {"time": [{"prefix": "2017-10-02"}]}
    assert matches(pattern, {"time": "2017-10-02T18:43:48Z"})
    assert not matches(pattern, {"time": "2017-10-03T18:43:48Z"})


def test_eb_prefix_matching_ignoring_case() -> None:
    # EB guide, "Content filtering", Prefix matching while ignoring case.
    pattern = {"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}
    for service in ("EventBridge", "EVENTBRIDGE", "eventbus"):
        assert matches(pattern, {"detail": {"service": service}})
    assert not matches(pattern, {"detail": {"service": "Event"}})


def test_eb_suffix_matching_png() -> None:
    # EB guide, "Content filtering", Suffix matching.
    pattern = {"FileName": [{"suffix": ".png"}]}
    assert matches(pattern, {"FileName": "image.png"})
    assert not matches(pattern, {"FileName": "image.PNG"})


def test_eb_suffix_matching_ignoring_case() -> None:
    # EB guide, "Content filtering", Suffix matching while ignoring case.
    pattern = {"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}
    assert matches(pattern, {"detail": {"FileName": "image.PNG"}})
    assert matches(pattern, {"detail": {"FileName": "image.Png"}})
    assert not matches(pattern, {"detail": {"FileName": "image.jpg"}})


def test_eb_anything_but_string_and_number() -> None:
    # EB guide, "Content filtering", Anything-but matching.
    by_state = {"detail": {"state": [{"anything-but": "initializing"}]}}
    assert matches(by_state, {"detail": {"state": "running"}})
    assert not matches(by_state, {"detail": {"state": "initializing"}})
    by_limit = {"detail": {"x-limit": [{"anything-but": 123}]}}
    assert matches(by_limit, {"detail": {"x-limit": 124}})
    assert not matches(by_limit, {"detail": {"x-limit": 123}})


def test_eb_anything_but_lists() -> None:
    # EB guide, "Content filtering", Anything-but with lists of strings and of numbers.
    states = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert matches(states, {"detail": {"state": "running"}})
    assert not matches(states, {"detail": {"state": "stopped"}})
    assert not matches(states, {"detail": {"state": "overloaded"}})
    limits = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert matches(limits, {"detail": {"x-limit": 150}})
    assert not matches(limits, {"detail": {"x-limit": 200}})


def test_eb_anything_but_prefix_suffix_ignore_case_wildcard() -> None:
    # EB guide, "Comparison operators": anything-but (begins with / ends with /
    # ignore case / using a wildcard).
    region = {"Region": [{"anything-but": {"prefix": "us-"}}]}
    assert matches(region, {"Region": "eu-west-1"})
    assert not matches(region, {"Region": "us-east-1"})
    file_name = {"FileName": [{"anything-but": {"suffix": ".png"}}]}
    assert matches(file_name, {"FileName": "a.jpg"})
    assert not matches(file_name, {"FileName": "a.png"})
    state = {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}
    assert matches(state, {"state": "running"})
    assert not matches(state, {"state": "INITIALIZING"})
    path = {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}
    assert matches(path, {"FilePath": "/usr/bin/python"})
    assert not matches(path, {"FilePath": "/usr/lib/python3"})


def test_ruler_anything_but_set_lists() -> None:
    # event-ruler README, "Anything-but matching": prefix, suffix, ignore-case and
    # wildcard lists.
    assert not matches(
        {"detail": {"state": [{"anything-but": {"prefix": ["init", "error"]}}]}},
        {"detail": {"state": "errored"}},
    )
    assert matches(
        {"detail": {"instance-id": [{"anything-but": {"suffix": ["1234", "6789"]}}]}},
        {"detail": {"instance-id": "i-5555"}},
    )
    assert not matches(
        {
            "detail": {
                "state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]
            }
        },
        {"detail": {"state": "overloaded"}},
    )
    jars = {"detail": {"state": [{"anything-but": {"wildcard": ["*/bin/*.jar", "*/bin/*.class"]}}]}}
    assert not matches(jars, {"detail": {"state": "/usr/bin/Main.class"}})
    assert matches(jars, {"detail": {"state": "/usr/lib/Main.class"}})


def test_eb_numeric_matching_example() -> None:
    # EB guide, "Content filtering", Numeric matching (all fields must hold).
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert matches(pattern, RULER_EVENT)
    assert not matches(pattern, {"detail": {**RULER_EVENT["detail"], "c-count": 0}})
    assert not matches(pattern, {"detail": {**RULER_EVENT["detail"], "c-count": 6}})
    assert not matches(pattern, {"detail": {**RULER_EVENT["detail"], "d-count": 10}})
    # numeric matching only works with values that are JSON numbers
    assert not matches(pattern, {"detail": {**RULER_EVENT["detail"], "d-count": "3"}})


def test_eb_ip_address_matching() -> None:
    # EB guide, "Content filtering", IP address matching: 10.0.0.0/24.
    pattern = {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}
    assert matches(pattern, {"detail": {"sourceIPAddress": "10.0.0.255"}})
    assert matches(pattern, {"detail": {"sourceIPAddress": "10.0.0.0"}})
    assert not matches(pattern, {"detail": {"sourceIPAddress": "10.0.1.0"}})
    assert not matches(pattern, {"detail": {"sourceIPAddress": "not an address"}})


def test_cidr_ipv6() -> None:
    # EB guide, "IP address matching" works "for IPv4 and IPv6 addresses".
    pattern = {"ip": [{"cidr": "2001:db8::/32"}]}
    assert matches(pattern, {"ip": "2001:db8:1234::1"})
    assert matches(pattern, {"ip": "2001:DB8::"})
    assert not matches(pattern, {"ip": "2001:db9::1"})
    assert not matches(pattern, {"ip": "10.0.0.1"})


def test_eb_exists_matching_example() -> None:
    # EB guide, "Content filtering", Exists matching: the matching and non-matching events.
    pattern = {"detail": {"state": [{"exists": True}]}}
    matching = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-abcd1111", "state": "pending"},
    }
    not_matching = {
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        "detail": {"c-count": {"c1": 100}},
    }
    assert matches(pattern, matching)
    assert not matches(pattern, not_matching)


def test_ruler_exists_false_only_on_leaf_nodes() -> None:
    # event-ruler README, "Exists matching": exists:false also matches when c-count is an
    # object, because exists works on leaf nodes only.
    pattern = {"detail": {"c-count": [{"exists": False}]}}
    assert matches(pattern, {"detail": {"state": ["initializing", "running"]}})
    assert matches(pattern, {"detail": {"state": "running", "c-count": {"c1": 100}}})
    assert not matches(pattern, {"detail": {"c-count": 5}})
    assert matches({"detail": {"c-count": [{"exists": False}]}}, {"source": "x"})


def test_exists_false_matches_empty_array_and_exists_true_matches_null() -> None:
    # An empty array has no leaf values; null is a value (event-ruler flattens it as one).
    assert matches({"tags": [{"exists": False}]}, {"tags": []})
    assert not matches({"tags": [{"exists": True}]}, {"tags": []})
    assert matches({"tags": [{"exists": True}]}, {"tags": None})


def test_eb_equals_ignore_case_example() -> None:
    # EB guide, "Content filtering", Equals-ignore-case matching.
    pattern = {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}
    event = {
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        "detail": {"c-count": {"c1": 100}},
    }
    assert matches(pattern, event)
    assert not matches(pattern, {"detail-type": "EC2 Instance State-change"})


def test_eb_complex_example_with_multiple_matching() -> None:
    # EB guide, "Complex example with multiple matching" (+ cidr from the Ruler README).
    pattern = {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
            "source-ip": [{"cidr": "10.0.0.0/8"}],
        },
    }
    assert matches(pattern, RULER_EVENT)
    assert not matches(pattern, {**RULER_EVENT, "time": "2017-10-03T00:00:00Z"})


def test_eb_duplicate_keys_last_one_wins() -> None:
    # EB guide, note under the complex example; Lambda guide, "Duplicate keys".
    text = (
        '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    )
    assert matches(text, {"detail": {"location": "eu-west"}})
    assert not matches(text, {"detail": {"location": "us-east"}})


def test_eb_complex_example_with_or() -> None:
    # EB guide, "Complex example with $or matching".
    pattern = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert matches(pattern, {"detail": {"c-count": 3}})
    assert matches(pattern, {"detail": {"d-count": 9}})
    assert matches(pattern, {"detail": {"x-limit": 301.8}})
    assert not matches(pattern, {"detail": {"c-count": 6, "d-count": 10, "x-limit": 300}})
    assert len(compile_pattern(pattern).alternatives) == 3  # "rule combinations"


def test_ruler_or_examples() -> None:
    # event-ruler README, "$or": normal, parallel and nested "Or".
    normal = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
    }
    assert matches(normal, {"source": "aws.cloudwatch", "namespace": "AWS/ES"})
    assert not matches(normal, {"source": "aws.s3", "namespace": "AWS/ES"})
    nested = {
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {
                "metricType": ["MetricType"],
                "namespace": ["AWS/EC2", "AWS/ES"],
                "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
            },
            {"scope": ["Service"]},
        ],
    }
    base = {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}
    assert matches(nested, {**base, "spaceId": 1000})
    assert not matches(nested, base)
    assert matches(nested, {"source": "aws.cloudwatch", "scope": "Service"})
    assert len(compile_pattern(nested).alternatives) == 4


def test_eb_wildcard_matching() -> None:
    # EB guide, "Wildcard matching": an event bus ARN in any account.
    pattern = {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    assert matches(
        pattern, {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}
    )
    assert not matches(
        pattern, {"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/default"}
    )
    # event-ruler README: "Simple*Service"
    assert matches({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleService"})
    assert matches({"source": [{"wildcard": "Simple*Service"}]}, {"source": "Simple Q Service"})


def test_wildcard_escapes() -> None:
    # event-ruler README: "\\*" is an asterisk, "\\\\" a backslash.
    star = {"f": [{"wildcard": "a\\*b"}]}
    assert matches(star, {"f": "a*b"})
    assert not matches(star, {"f": "axb"})
    backslash = {"f": [{"wildcard": "a\\\\*"}]}
    assert matches(backslash, {"f": "a\\anything"})
    assert not matches(backslash, {"f": "ab"})


def test_wildcard_is_linear_on_adversarial_input() -> None:
    # A backtracking matcher takes exponential time here; this one scans once per piece.
    pattern = compile_pattern({"f": [{"wildcard": "*a" * 30 + "*b"}]})
    value = "a" * 200_000
    assert not pattern.matches({"f": value})
    assert pattern.matches({"f": value + "b"})


# --- Lambda guide examples ---------------------------------------------------------------


def test_lambda_kinesis_partition_key_and_location() -> None:
    # Lambda guide, "Filtering examples": partitionKey "1" and data.Location.
    filter_pattern = '{ "partitionKey": [ "1" ], "data": { "Location": [ "Los Angeles" ] }}'
    record = {"partitionKey": "1", "data": {"Location": "Los Angeles", "Temperature": 50}}
    assert matches(filter_pattern, record)
    assert not matches(filter_pattern, {**record, "partitionKey": "2"})


def test_lambda_temperature_range() -> None:
    # Lambda guide, "Filtering examples": Temperature > 50 and <= 60.
    filter_pattern = '{ "data": { "Temperature": [ {"numeric": [ ">", 50, "<=", 60 ] } ]}}'
    assert matches(filter_pattern, {"data": {"Temperature": 60}})
    assert not matches(filter_pattern, {"data": {"Temperature": 50}})
    assert not matches(filter_pattern, {"data": {"Temperature": 60.5}})


def test_lambda_multi_level_dynamodb_keys() -> None:
    # Lambda guide, "Multi-level filtering": dynamodb.Keys.Id.N is "101".
    record = {
        "dynamodb": {
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    }
    pattern = {"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}
    assert matches(pattern, record)
    assert not matches({"dynamodb": {"Keys": {"Id": {"N": ["102"]}}}}, record)


def test_lambda_console_example_a_is_1_or_2() -> None:
    # Lambda guide, "Attaching filter criteria (console)": { "a" : [ 1, 2 ] }.
    assert matches('{ "a" : [ 1, 2 ] }', {"a": 2})
    assert not matches('{ "a" : [ 1, 2 ] }', {"a": 3})
    assert not matches('{ "a" : [ 1, 2 ] }', {"a": "1"})


def test_lambda_operator_table() -> None:
    # Lambda guide, "Filter rule syntax": the comparison operator table.
    table: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
        ({"UserID": [None]}, {"UserID": None}, {"UserID": "u"}),
        ({"LastName": [""]}, {"LastName": ""}, {"LastName": "Doe"}),
        ({"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
        (
            {"Location": ["New York"], "Day": ["Monday"]},
            {"Location": "New York", "Day": "Monday"},
            {"Location": "New York", "Day": "Sunday"},
        ),
        ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, {"PaymentType": "Cash"}),
        (
            {"Weather": [{"anything-but": ["Raining"]}]},
            {"Weather": "Sunny"},
            {"Weather": "Raining"},
        ),
        ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, {"Price": 101}),
        ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, {"Price": 10}),
        ({"ProductName": [{"exists": True}]}, {"ProductName": "x"}, {}),
        ({"ProductName": [{"exists": False}]}, {}, {"ProductName": "x"}),
        ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-west-1"}),
    ]
    for pattern, hit, miss in table:
        assert matches(pattern, hit), pattern
        assert not matches(pattern, miss), pattern


# --- arrays, numbers, strings ------------------------------------------------------------


def test_array_consistency_fields_must_come_from_one_element() -> None:
    # event-ruler README, "JSON Array Matching": employees.
    event = {
        "employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"},
        ]
    }
    assert matches({"employees": {"firstName": ["Anna"]}}, event)
    assert not matches({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, event)
    assert matches({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, event)
    nested = {
        "employees": [[event["employees"][0], event["employees"][1]], [event["employees"][2]]]
    }
    assert matches({"employees": {"firstName": ["Peter"]}}, nested)


def test_exists_false_over_an_array_of_objects_means_no_element_has_it() -> None:
    event = {"items": [{"id": 1}, {"id": 2, "error": "boom"}]}
    assert not matches({"items": {"error": [{"exists": False}]}}, event)
    assert matches({"items": {"error": [{"exists": False}]}}, {"items": [{"id": 1}, {"id": 2}]})
    assert matches({"items": {"error": [{"exists": True}]}}, event)


def test_anything_but_over_event_array_matches_when_some_element_is_not_excluded() -> None:
    # SNS filter docs (same engine): [100, 50] contains a value that isn't 100 or 500.
    pattern = {"price": [{"anything-but": [100, 500]}]}
    assert matches(pattern, {"price": [100, 50]})
    assert not matches(pattern, {"price": [100, 500]})
    assert not matches(pattern, {"other": 1})  # anything-but needs the field


def test_numbers_compare_as_numbers() -> None:
    assert matches({"n": [300]}, {"n": 300.0})
    assert matches('{"n": [3.0e2]}', '{"n": 300}')
    assert not matches({"n": [300]}, {"n": "300"})
    assert matches({"n": [{"numeric": ["=", 5e9]}]}, {"n": 5_000_000_000})
    big = 10**20
    assert matches({"n": [{"numeric": [">", 1e19]}]}, {"n": big})
    assert not matches({"n": [True]}, {"n": 1})
    assert not matches({"n": [1]}, {"n": True})


def test_numbers_a_double_cannot_represent_do_not_compare() -> None:
    # event-ruler refuses numbers a binary64 double would round.
    assert reason('{"n": [{"numeric": ["<", 0.30000000000000001]}]}') == (
        "Cannot compare number : 0.30000000000000001"
    )
    rounded = decode_event('{"n": 9007199254740993}')
    assert not matches({"n": [{"numeric": [">", 0]}]}, rounded)
    assert matches({"n": [9007199254740993]}, rounded)  # exact match still works


def test_string_operators_ignore_non_strings() -> None:
    for operator in (
        {"prefix": "1"},
        {"suffix": "1"},
        {"equals-ignore-case": "1"},
        {"wildcard": "*"},
        {"cidr": "0.0.0.0/0"},
    ):
        assert not matches({"f": [operator]}, {"f": 1}), operator
    assert matches({"f": [{"anything-but": "1"}]}, {"f": 1})
    assert matches({"f": [{"anything-but": 1}]}, {"f": "1"})


def test_exact_ip_string_matches_other_spellings() -> None:
    assert matches({"ip": ["2001:db8::1"]}, {"ip": "2001:0db8:0:0:0:0:0:1"})
    assert not matches({"ip": ["2001:db8::1"]}, {"ip": "2001:db8::2"})


def test_event_as_json_text_and_top_level_non_object() -> None:
    pattern = compile_pattern('{"detail": {"x-limit": [301.8]}}')
    assert pattern.matches(json.dumps(RULER_EVENT))
    assert pattern.matches(json.dumps(RULER_EVENT).encode())
    assert not pattern.matches("[1, 2]")
    with pytest.raises(ValueError, match="Expecting value"):
        pattern.matches("not json")


def test_compiled_pattern_is_frozen_and_keeps_its_text() -> None:
    text = '{"source": ["aws.ec2"]}'
    pattern = compile_pattern(text)
    assert isinstance(pattern, EventPattern)
    assert pattern.text == text
    assert compile_pattern(text) == pattern
    with pytest.raises(AttributeError):
        pattern.text = "{}"  # type: ignore[misc]
    assert matches(pattern, {"source": "aws.ec2"})


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[]", "Filter is not an object"),
        ('"x"', "Filter is not an object"),
        ("{}", "Empty objects are not allowed"),
        ('{"a": {}}', "Empty objects are not allowed"),
        ('{"a": []}', "Empty arrays are not allowed"),
        ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
        ('{"a": [[1]]}', "Match value must be String, number, true, false, or null"),
        ('{"a": [{}]}', "Match expression name not found"),
        ('{"a": [{"regex": "x"}]}', "Unrecognized match type regex"),
        ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
        ('{"a": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed in match expression"),
        ('{"a": [{"prefix": {}}]}', "Prefix expression name not found"),
        ('{"a": [{"prefix": {"wildcard": "a"}}]}', "Unsupported prefix pattern: wildcard"),
        (
            '{"a": [{"suffix": {"equals-ignore-case": 1}}]}',
            "equals-ignore-case match pattern must be a string",
        ),
        ('{"a": [{"suffix": null}]}', "suffix match pattern must be a string"),
        ('{"a": [{"equals-ignore-case": 5}]}', "equals-ignore-case match pattern must be a string"),
        ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
        ('{"a": [{"exactly": 1}]}', "exact match pattern must be a string"),
        ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array."),
        ('{"a": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
        ('{"a": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
        ('{"a": [{"numeric": ["!=", 5]}]}', "Unrecognized numeric range operator: !="),
        ('{"a": [{"numeric": ["=", "5"]}]}', "Value of equals must be numeric"),
        ('{"a": [{"numeric": [">"]}]}', "Value of > must be numeric"),
        ('{"a": [{"numeric": ["<", 5, ">", 1]}]}', "Too many elements in numeric expression"),
        ('{"a": [{"numeric": [">", 5, 6]}]}', "Bad value in numeric range: 6"),
        ('{"a": [{"numeric": [">", 5, ">", 6]}]}', "Bad numeric range operator: >"),
        ('{"a": [{"numeric": [">", 5, "<", "x"]}]}', "Value of < must be numeric"),
        ('{"a": [{"numeric": [">", 5, "<", 6, 7]}]}', "Too many terms in numeric range expression"),
        ('{"a": [{"numeric": [">", 5, "<", 5]}]}', "Bottom must be less than top"),
        ('{"a": [{"numeric": [">", 1], "x": 1}]}', "Too many elements in numeric expression"),
        (
            '{"a": [{"anything-but": null}]}',
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            '{"a": [{"anything-but": [true]}]}',
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            '{"a": [{"anything-but": ["a", 1]}]}',
            MIXED_ANYTHING_BUT,
        ),
        (
            '{"a": [{"anything-but": []}]}',
            MIXED_ANYTHING_BUT,
        ),
        ('{"a": [{"anything-but": {}}]}', "Anything-But expression name not found"),
        (
            '{"a": [{"anything-but": {"numeric": [">", 1]}}]}',
            "Unsupported anything-but pattern: numeric",
        ),
        ('{"a": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
        (
            '{"a": [{"anything-but": {"suffix": [1]}}]}',
            "prefix/suffix match pattern must be a string",
        ),
        (
            '{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}',
            "Inside anything-but/equals-ignore-case list, "
            "number|start|null|boolean is not supported.",
        ),
        ('{"a": [{"anything-but": {"wildcard": 5}}]}', "wildcard match pattern must be a string"),
        (
            '{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}',
            "Too many elements in numeric expression",
        ),
        ('{"a": [{"wildcard": 1}]}', "wildcard match pattern must be a string"),
        ('{"a": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
        ('{"a": [{"wildcard": "é**"}]}', "Consecutive wildcard characters at pos 3"),
        ('{"a": [{"wildcard": "a\\\\b"}]}', "Invalid escape character at pos 2"),
        (
            '{"a": [{"anything-but": {"wildcard": "x**"}}]}',
            "Consecutive wildcard characters at pos 2",
        ),
        ('{"a": [{"cidr": 10}]}', "prefix match pattern must be a string"),
        ('{"a": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
        ('{"a": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer"),
        ('{"a": [{"cidr": "10.0.0.0/-1"}]}', "Malformed CIDR, mask bits must not be negative"),
        ('{"a": [{"cidr": "10.0.0.0/32"}]}', "IPv4 mask bits must be < 32"),
        ('{"a": [{"cidr": "::/128"}]}', "IPv6 mask bits must be < 128"),
        ('{"a": [{"cidr": "example.com/8"}]}', "Nonstandard IP address: example.com"),
        ('{"a": [{"cidr": "999.0.0.0/8"}]}', "Invalid IP address: 999.0.0.0"),
        ('{"$or": {"a": [1]}}', "It must be an Array followed with $or."),
        ('{"$or": [{"a": [1]}, 2]}', "Only JSON object is allowed in array of $or relationship."),
        ('{"$or": [{"a": [1]}]}', "There must have at least 2 Objects in $or relationship."),
        (
            '{"$or": [{"numeric": [1]}, {"b": [2]}]}',
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        ('{"a": [NaN]}', "NaN is not JSON"),
    ],
)
def test_invalid_patterns_get_aws_reasons(pattern: str, expected: str) -> None:
    assert reason(pattern) == expected


def test_error_message_is_eventbridges() -> None:
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern('{"source": "aws.ec2"}')
    assert str(info.value) == (
        'Event pattern is not valid. Reason: "source" must be an object or an array'
    )
    assert info.value.message == str(info.value)


def test_malformed_json_is_invalid() -> None:
    assert reason('{"a": [1,]').startswith("Expecting value")
    assert reason(b"\xff") == "Invalid UTF-8 at byte 0"


def test_reserved_names_are_fine_outside_or() -> None:
    assert matches({"prefix": ["x"]}, {"prefix": "x"})


def test_limits_size_or_combinations_and_depth() -> None:
    too_long = '{"a": ["' + "x" * MAX_PATTERN_LENGTH + '"]}'
    assert "longer than 4096" in reason(too_long)
    assert "longer than 4096" in reason({"a": ["x" * MAX_PATTERN_LENGTH]})

    # 10 x 10 x 11 combinations > 1000; 10 x 10 x 10 is exactly the limit.
    def ors(*sizes: int) -> dict[str, Any]:
        return {
            f"k{i}": {"$or": [{f"f{j}": [j]} for j in range(size)]} for i, size in enumerate(sizes)
        }

    assert len(compile_pattern(ors(10, 10, 10)).alternatives) == MAX_OR_COMBINATIONS
    assert "at least 1100 combinations" in reason(ors(10, 10, 11))
    deep: dict[str, Any] = {"leaf": [1]}
    for _ in range(70):
        deep = {"n": deep}
    assert "nested deeper than 64" in reason(deep)
    # deeper than Python's JSON decoder recurses, within 4096 characters
    assert "nested too deeply" in reason('{"a":' + "[" * 2000 + "]" * 2000 + "}")


def test_mapping_patterns_accept_python_numbers() -> None:
    assert matches({"n": [{"numeric": [">=", Decimal("1.5")]}]}, {"n": 2})
    assert reason({"n": [float("nan")]}) == (
        "Match value must be String, number, true, false, or null"
    )
    assert reason({"n": [{1, 2}]}) == "Match value must be String, number, true, false, or null"


# --- properties --------------------------------------------------------------------------

KEYS = st.text(alphabet="abcdef-_.", min_size=1, max_size=4)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
EVENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
).filter(lambda v: isinstance(v, dict))


def _paths(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, leaf) pairs reachable without crossing arrays of objects."""
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict | list):
                found.append((path, item))
    elif path:
        found.append((path, value))
    return found


def _nest(path: tuple[str, ...], leaf_rule: list[Any]) -> dict[str, Any]:
    pattern: Any = leaf_rule
    for key in reversed(path):
        pattern = {key: pattern}
    return dict(pattern)


def _merge(target: dict[str, Any], addition: dict[str, Any]) -> None:
    for key, value in addition.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@given(event=EVENTS, data=st.data())
@settings(max_examples=300)
def test_a_pattern_built_from_an_events_own_values_matches_it(
    event: dict[str, Any], data: st.DataObject
) -> None:
    paths = _paths(event)
    assume(paths)
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4))
    pattern: dict[str, Any] = {}
    for path, leaf in chosen:
        _merge(pattern, _nest(path, [leaf]))
    assume(all(isinstance(v, dict | list) for v in pattern.values()))
    assert matches(pattern, event)
    assert matches(json.dumps(pattern), json.dumps(event))


def _wildcard_text(draw_text: str) -> str:
    return re.sub(r"\*+", "*", draw_text)


POSITIVE_OPERATORS = st.one_of(
    st.text(alphabet="aAb", max_size=3),
    st.integers(-3, 3),
    st.builds(lambda t: {"prefix": t}, st.text(alphabet="aAb", min_size=1, max_size=3)),
    st.builds(lambda t: {"suffix": t}, st.text(alphabet="aAb", min_size=1, max_size=3)),
    st.builds(lambda t: {"equals-ignore-case": t}, st.text(alphabet="aAb", max_size=3)),
    st.builds(lambda t: {"wildcard": _wildcard_text(t)}, st.text(alphabet="ab*", max_size=5)),
)
LEAVES = st.one_of(
    st.text(alphabet="aAb", max_size=4), st.integers(-3, 3), st.none(), st.booleans()
)


def _anything_but(operator: Any) -> dict[str, Any]:
    if isinstance(operator, dict):
        return {"anything-but": operator}
    return {"anything-but": operator}


@given(operator=POSITIVE_OPERATORS, leaf=LEAVES)
@settings(max_examples=500)
def test_anything_but_x_is_the_negation_of_x_on_present_scalars(operator: Any, leaf: Any) -> None:
    event = {"f": leaf}
    assert matches({"f": [_anything_but(operator)]}, event) == (
        not matches({"f": [operator]}, event)
    )
    assert not matches({"f": [_anything_but(operator)]}, {"g": leaf})


@given(event=EVENTS, path=st.lists(KEYS, min_size=1, max_size=3))
@settings(max_examples=300)
def test_exists_false_is_the_negation_of_exists_true(
    event: dict[str, Any], path: list[str]
) -> None:
    present = _nest(tuple(path), [{"exists": True}])
    absent = _nest(tuple(path), [{"exists": False}])
    assert matches(absent, event) == (not matches(present, event))


@given(
    wildcard=st.text(alphabet="ab*", max_size=8).map(_wildcard_text),
    value=st.text(alphabet="ab", max_size=10),
)
@settings(max_examples=500)
def test_wildcard_agrees_with_a_regular_expression(wildcard: str, value: str) -> None:
    regex = ".*".join(re.escape(piece) for piece in wildcard.split("*"))
    expected = re.fullmatch(regex, value, flags=re.DOTALL) is not None
    assert matches({"f": [{"wildcard": wildcard}]}, {"f": value}) == expected


@given(
    low=st.integers(-1000, 1000),
    width=st.integers(1, 1000),
    value=st.one_of(st.integers(-3000, 3000), st.floats(-3000, 3000)),
    low_op=st.sampled_from([">", ">="]),
    high_op=st.sampled_from(["<", "<="]),
)
def test_numeric_ranges_agree_with_arithmetic(
    low: int, width: int, value: float, low_op: str, high_op: str
) -> None:
    high = low + width
    expected = (value > low if low_op == ">" else value >= low) and (
        value < high if high_op == "<" else value <= high
    )
    pattern = {"n": [{"numeric": [low_op, low, high_op, high]}]}
    assert matches(pattern, {"n": value}) == expected
