from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import cbor2
import pytest

from lambdad.api.cloudwatch_api import CloudWatchApi
from lambdad.api.context import RequestContext
from lambdad.api.sigv4 import Principal
from lambdad.model.credential import Credential
from lambdad.observe.metrics_recorder import MetricsRecorder
from lambdad.observe.metrics_service import MetricsService
from lambdad.store.metrics_sqlite import SqliteMetricStorage

NOW = 1_800_000_000.0
NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


@pytest.fixture
def api() -> Iterator[CloudWatchApi]:
    storage = SqliteMetricStorage(":memory:")
    storage.open()
    metrics = MetricsService(storage, MetricsRecorder(now=lambda: NOW), now=lambda: NOW)
    yield CloudWatchApi(metrics, now=lambda: NOW)
    storage.close()


def ctx(headers: dict[str, str], account: str = "111122223333") -> RequestContext:
    cred = Credential("AKID", "secret", account)
    return RequestContext(Principal(cred, "us-east-1", "monitoring"), "req-1", "http://x", headers)


def query(
    api: CloudWatchApi, params: dict[str, Any], account: str = "111122223333"
) -> tuple[int, Any]:
    body = urlencode({"Version": "2010-08-01", **params}).encode()
    status, _, out = asyncio.run(api(ctx({}, account), "POST", "/", "", body))
    return status, ET.fromstring(out)


def cbor(
    api: CloudWatchApi, op: str, doc: dict[str, Any], account: str = "111122223333"
) -> tuple[int, dict[str, str], Any]:
    headers = {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"}
    status, out_headers, out = asyncio.run(
        api(ctx(headers, account), "POST", CBOR_PATH + op, "", cbor2.dumps(doc))
    )
    return status, out_headers, cbor2.loads(out)


def put_orders(api: CloudWatchApi) -> None:
    status, _ = query(
        api,
        {
            "Action": "PutMetricData",
            "Namespace": "Shop",
            "MetricData.member.1.MetricName": "Orders",
            "MetricData.member.1.Value": "3",
            "MetricData.member.1.Dimensions.member.1.Name": "env",
            "MetricData.member.1.Dimensions.member.1.Value": "dev",
            "MetricData.member.2.MetricName": "Orders",
            "MetricData.member.2.Values.member.1": "1",
            "MetricData.member.2.Values.member.2": "5",
            "MetricData.member.2.Dimensions.member.1.Name": "env",
            "MetricData.member.2.Dimensions.member.1.Value": "dev",
        },
    )
    assert status == 200


def test_query_protocol_writes_and_reads(api: CloudWatchApi) -> None:
    put_orders(api)
    status, root = query(
        api,
        {
            "Action": "GetMetricStatistics",
            "Namespace": "Shop",
            "MetricName": "Orders",
            "Dimensions.member.1.Name": "env",
            "Dimensions.member.1.Value": "dev",
            "StartTime": "2027-01-15T07:00:00Z",
            "EndTime": "2027-01-15T09:00:00Z",
            "Period": "3600",
            "Statistics.member.1": "Sum",
            "Statistics.member.2": "Maximum",
            "ExtendedStatistics.member.1": "p50",
        },
    )
    assert status == 200
    point = root.find(f"{NS}GetMetricStatisticsResult/{NS}Datapoints/{NS}member")
    assert point is not None
    assert point.findtext(f"{NS}Sum") == "9.0"
    assert point.findtext(f"{NS}Maximum") == "5.0"
    assert point.findtext(f"{NS}ExtendedStatistics/{NS}entry/{NS}key") == "p50"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId") == "req-1"


def test_query_protocol_errors(api: CloudWatchApi) -> None:
    status, root = query(api, {"Action": "GetMetricStatistics", "Namespace": "Shop"})
    assert status == 400
    assert root.findtext(f"{NS}Error/{NS}Code") == "MissingParameter"
    assert root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    status, root = query(api, {"Action": "NoSuchThing"})
    assert (status, root.findtext(f"{NS}Error/{NS}Code")) == (400, "InvalidAction")
    status, root = query(api, {"Action": "ListMetrics", "Dimensions.member.x.Name": "a"})
    assert root.findtext(f"{NS}Error/{NS}Code") == "InvalidParameterValue"


def test_cbor_reads_what_was_put_and_other_accounts_see_nothing(api: CloudWatchApi) -> None:
    put_orders(api)
    status, headers, doc = cbor(api, "ListMetrics", {"Namespace": "Shop"})
    assert status == 200
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert doc["Metrics"] == [
        {
            "Namespace": "Shop",
            "MetricName": "Orders",
            "Dimensions": [{"Name": "env", "Value": "dev"}],
        }
    ]
    assert cbor(api, "ListMetrics", {}, account="999988887777")[2]["Metrics"] == []
    _, _, data = cbor(
        api,
        "GetMetricData",
        {
            "StartTime": NOW - 3600,
            "EndTime": NOW + 60,
            "MetricDataQueries": [
                {
                    "Id": "o",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "Shop",
                            "MetricName": "Orders",
                            "Dimensions": [{"Name": "env", "Value": "dev"}],
                        },
                        "Period": 60,
                        "Stat": "SampleCount",
                    },
                },
                {"Id": "double", "Expression": "o * 2"},
            ],
        },
    )
    results = {r["Id"]: r["Values"] for r in data["MetricDataResults"]}
    assert results == {"o": [3.0], "double": [6.0]}


def test_cbor_and_json_errors_name_the_shape_and_the_query_code(api: CloudWatchApi) -> None:
    status, headers, doc = cbor(
        api,
        "PutMetricData",
        {"Namespace": "AWS/Lambda", "MetricData": [{"MetricName": "x", "Value": 1}]},
    )
    assert status == 400
    assert doc["__type"].endswith("#InvalidParameterValueException")
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    status, _, doc = cbor(api, "DeleteDashboards", {})
    assert (status, doc["__type"].split("#")[-1]) == (404, "UnknownOperationException")
    headers = {"x-amz-target": "GraniteServiceVersion20100801.GetMetricData"}
    status, _, out = asyncio.run(api(ctx(headers), "POST", "/", "", b"[1, 2"))
    assert status == 400
    assert json.loads(out)["__type"].endswith("#SerializationException")
    bad_math = {
        "StartTime": NOW - 60,
        "EndTime": NOW,
        "MetricDataQueries": [{"Id": "a", "Expression": "b + 1"}, {"Id": "b", "Expression": "a"}],
    }
    status, _, doc = cbor(api, "GetMetricData", bad_math)
    assert (status, doc["__type"].split("#")[-1]) == (400, "InvalidParameterValueException")


def test_datapoint_limit_and_period(api: CloudWatchApi) -> None:
    base = {
        "Namespace": "Shop",
        "MetricName": "Orders",
        "Statistics": ["Sum"],
        "StartTime": NOW - 86400 * 2,
        "EndTime": NOW,
    }
    status, _, doc = cbor(api, "GetMetricStatistics", {**base, "Period": 60})
    assert (status, doc["__type"].split("#")[-1]) == (400, "InvalidParameterCombinationException")
    assert "2,880 datapoints" in doc["message"]
    status, _, doc = cbor(api, "GetMetricStatistics", {**base, "Period": 90})
    assert doc["message"] == "The parameter Period must be a multiple of 60."


def test_alarms_are_kept_per_account_and_evaluated(api: CloudWatchApi) -> None:
    put_orders(api)
    alarm = {
        "AlarmName": "many-orders",
        "Namespace": "Shop",
        "MetricName": "Orders",
        "Dimensions": [{"Name": "env", "Value": "dev"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    assert cbor(api, "PutMetricAlarm", alarm)[0] == 200
    _, _, doc = cbor(api, "DescribeAlarms", {})
    (got,) = doc["MetricAlarms"]
    assert got["StateValue"] == "ALARM"
    assert got["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:111122223333:alarm:many-orders"
    assert cbor(api, "DescribeAlarms", {}, account="999988887777")[2]["MetricAlarms"] == []
    cbor(api, "DeleteAlarms", {"AlarmNames": ["many-orders"]})
    assert cbor(api, "DescribeAlarms", {})[2]["MetricAlarms"] == []


@pytest.mark.parametrize(
    ("op", "doc"),
    [
        ("GetMetricStatistics", [1, 2]),
        (
            "GetMetricStatistics",
            {
                "Namespace": "a",
                "MetricName": "b",
                "StartTime": "x",
                "EndTime": 5,
                "Period": 60,
                "Statistics": ["Sum"],
            },
        ),
        (
            "GetMetricStatistics",
            {
                "Namespace": "a",
                "MetricName": "b",
                "StartTime": 0,
                "EndTime": 5,
                "Period": 60 * 10**20,
                "Statistics": ["Sum"],
            },
        ),
        (
            "GetMetricStatistics",
            {
                "Namespace": "a",
                "MetricName": "b",
                "StartTime": 1e300,
                "EndTime": 1e301,
                "Period": 60,
                "Statistics": ["Sum"],
            },
        ),
        (
            "GetMetricData",
            {
                "StartTime": 0,
                "EndTime": 5,
                "MetricDataQueries": [{"Id": "a", "Expression": "(" * 1500 + "1" + ")" * 1500}],
            },
        ),
        (
            "GetMetricData",
            {
                "StartTime": 0,
                "EndTime": 5,
                "MetricDataQueries": [{"Id": "a", "Expression": "(" * 900 + "1" + ")" * 900}],
            },
        ),
        (
            "PutMetricData",
            {"Namespace": "a", "MetricData": [{"MetricName": "x", "StatisticValues": {"Sum": 1}}]},
        ),
        (
            "PutMetricData",
            {"Namespace": "a", "MetricData": [{"MetricName": "x", "Value": float("nan")}]},
        ),
    ],
)
def test_bad_input_is_answered_400(api: CloudWatchApi, op: str, doc: Any) -> None:
    status, _, out = cbor(api, op, doc)
    assert status == 400, out


def test_list_metrics_recently_active(api: CloudWatchApi) -> None:
    put_orders(api)
    assert len(cbor(api, "ListMetrics", {"RecentlyActive": "PT3H"})[2]["Metrics"]) == 1
    api.metrics._now = lambda: NOW + 4 * 3600  # type: ignore[method-assign]
    assert cbor(api, "ListMetrics", {"RecentlyActive": "PT3H"})[2]["Metrics"] == []
    assert len(cbor(api, "ListMetrics", {})[2]["Metrics"]) == 1
    assert cbor(api, "ListMetrics", {"RecentlyActive": "P1D"})[0] == 400


def test_units_are_kept_and_filter(api: CloudWatchApi) -> None:
    datum = {"MetricName": "Bytes", "Value": 512, "Unit": "Bytes"}
    assert cbor(api, "PutMetricData", {"Namespace": "Shop", "MetricData": [datum]})[0] == 200
    base = {"Namespace": "Shop", "MetricName": "Bytes", "Statistics": ["Sum"], "Period": 60}
    window = {"StartTime": NOW - 60, "EndTime": NOW + 60}
    (point,) = cbor(api, "GetMetricStatistics", base | window)[2]["Datapoints"]
    assert (point["Sum"], point["Unit"]) == (512.0, "Bytes")
    asked = base | window | {"Unit": "Seconds"}
    assert cbor(api, "GetMetricStatistics", asked)[2]["Datapoints"] == []
    bad = {"Namespace": "Shop", "MetricData": [datum | {"Unit": "Parsecs"}]}
    assert cbor(api, "PutMetricData", bad)[0] == 400


def test_custom_series_past_the_quota_are_refused(api: CloudWatchApi) -> None:
    api.metrics.quota.limit = 2
    two = [{"MetricName": "a", "Value": 1}, {"MetricName": "b", "Value": 1}]
    assert cbor(api, "PutMetricData", {"Namespace": "Shop", "MetricData": two})[0] == 200
    third = {"Namespace": "Shop", "MetricData": [{"MetricName": "c", "Value": 1}]}
    status, headers, doc = cbor(api, "PutMetricData", third)
    assert (status, headers["x-amzn-query-error"]) == (400, "LimitExceeded;Sender")
    assert doc["__type"].endswith("#LimitExceededFault")
    again = {"Namespace": "Shop", "MetricData": [{"MetricName": "a", "Value": 2}]}
    assert cbor(api, "PutMetricData", again)[0] == 200
    names = {m["MetricName"] for m in cbor(api, "ListMetrics", {"Namespace": "Shop"})[2]["Metrics"]}
    assert names == {"a", "b"}


def test_describe_alarms_pages(api: CloudWatchApi) -> None:
    for name in ("c", "a", "b"):
        assert cbor(api, "PutMetricAlarm", _alarm(name))[0] == 200
    first = cbor(api, "DescribeAlarms", {"MaxRecords": 2})[2]
    assert [a["AlarmName"] for a in first["MetricAlarms"]] == ["a", "b"]
    rest = cbor(api, "DescribeAlarms", {"MaxRecords": 2, "NextToken": first["NextToken"]})[2]
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == ["c"]
    assert "NextToken" not in rest
    assert cbor(api, "DescribeAlarms", {"MaxRecords": 0})[0] == 400


def _alarm(name: str, **over: Any) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "Namespace": "Shop",
        "MetricName": "Orders",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
    } | over


def test_alarm_actions_are_checked(api: CloudWatchApi) -> None:
    topic = "arn:aws:sns:us-east-1:111122223333:ops"
    ok = _alarm("acted", AlarmActions=[topic], OKActions=[topic], ActionsEnabled=False)
    assert cbor(api, "PutMetricAlarm", ok)[0] == 200
    (got,) = cbor(api, "DescribeAlarms", {"AlarmNames": ["acted"]})[2]["MetricAlarms"]
    assert got["AlarmActions"] == [topic]
    assert got["ActionsEnabled"] is False
    assert cbor(api, "DescribeAlarms", {"ActionPrefix": "arn:aws:sns:"})[2]["MetricAlarms"]
    assert not cbor(api, "DescribeAlarms", {"ActionPrefix": "arn:aws:lambda:"})[2]["MetricAlarms"]
    assert cbor(api, "PutMetricAlarm", _alarm("plain"))[0] == 200
    (plain,) = cbor(api, "DescribeAlarms", {"AlarmNames": ["plain"]})[2]["MetricAlarms"]
    assert plain["ActionsEnabled"] is True
    assert (plain["AlarmActions"], plain["OKActions"], plain["InsufficientDataActions"]) == (
        [],
        [],
        [],
    )
    cbor(api, "EnableAlarmActions", {"AlarmNames": ["acted"]})
    (got,) = cbor(api, "DescribeAlarms", {"AlarmNames": ["acted"]})[2]["MetricAlarms"]
    assert got["ActionsEnabled"] is True

    status, _headers, doc = cbor(api, "PutMetricAlarm", _alarm("x", AlarmActions=["nope"]))
    assert status == 400
    assert doc["message"] == "Invalid arn syntax: nope"
    elsewhere = "arn:aws:sns:eu-west-1:111122223333:ops"
    status, _, doc = cbor(api, "PutMetricAlarm", _alarm("x", OKActions=[elsewhere]))
    assert (status, doc["message"]) == (
        400,
        "Invalid region eu-west-1 specified. Only us-east-1 is supported.",
    )
    status, _, doc = cbor(api, "PutMetricAlarm", _alarm("x", AlarmActions=[topic] * 6))
    assert status == 400
    # The model's limit (five actions), checked first and worded as CloudWatch does.
    assert doc["message"].startswith("1 validation error detected: Value '[")
    assert doc["message"].endswith(
        "' at 'alarmActions' failed to satisfy constraint: "
        "Member must have length less than or equal to 5"
    )


def test_set_alarm_state_and_history(api: CloudWatchApi) -> None:
    assert cbor(api, "PutMetricAlarm", _alarm("manual"))[0] == 200
    status, headers, _doc = cbor(
        api, "SetAlarmState", {"AlarmName": "gone", "StateValue": "OK", "StateReason": "x"}
    )
    assert status == 404
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    # Recorded from CloudWatch: no message, and over the query protocol no <Message>.
    status, root = query(api, {"Action": "SetAlarmState", "AlarmName": "gone",
                               "StateValue": "OK", "StateReason": "x"})  # fmt: skip
    assert status == 404
    assert root.find(f"{NS}Error/{NS}Code").text == "ResourceNotFound"  # type: ignore[union-attr]
    assert root.find(f"{NS}Error/{NS}Message") is None
    bad = {"AlarmName": "manual", "StateValue": "OK", "StateReason": "x"}
    status, headers, _ = cbor(api, "SetAlarmState", bad | {"StateReasonData": "{"})
    assert (status, headers["x-amzn-query-error"]) == (400, "InvalidFormat;Sender")
    assert cbor(api, "SetAlarmState", bad | {"StateValue": "MAYBE"})[0] == 400
    status, _, _ = cbor(
        api, "SetAlarmState", {"AlarmName": "manual", "StateValue": "ALARM", "StateReason": "hi"}
    )
    assert status == 200

    history = cbor(api, "DescribeAlarmHistory", {"AlarmName": "manual"})[2]["AlarmHistoryItems"]
    # Newest first by default.
    assert [h["HistoryItemType"] for h in history] == ["StateUpdate", "ConfigurationUpdate"]
    assert history[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert history[0]["AlarmType"] == "MetricAlarm"
    oldest = cbor(api, "DescribeAlarmHistory", {"ScanBy": "TimestampAscending", "MaxRecords": 1})[2]
    assert [h["HistoryItemType"] for h in oldest["AlarmHistoryItems"]] == ["ConfigurationUpdate"]
    rest = cbor(api, "DescribeAlarmHistory", {"ScanBy": "TimestampAscending", "MaxRecords": 1,
                                               "NextToken": oldest["NextToken"]})[2]  # fmt: skip
    assert [h["HistoryItemType"] for h in rest["AlarmHistoryItems"]] == ["StateUpdate"]
    only = cbor(api, "DescribeAlarmHistory", {"HistoryItemType": "StateUpdate"})[2]
    assert len(only["AlarmHistoryItems"]) == 1
    others = cbor(api, "DescribeAlarmHistory", {}, account="999988887777")[2]
    assert others["AlarmHistoryItems"] == []
    assert cbor(api, "DescribeAlarmHistory", {"NextToken": "x"})[0] == 400
    assert cbor(api, "DescribeAlarmHistory", {"HistoryItemType": "Nope"})[0] == 400
    for contributor in ("AlarmContributorStateUpdate", "AlarmContributorAction"):
        status, _, none = cbor(api, "DescribeAlarmHistory", {"HistoryItemType": contributor})
        assert (status, none["AlarmHistoryItems"]) == (200, [])
    # The query protocol answers it too (older SDKs, the CLI).
    status, root = query(api, {"Action": "DescribeAlarmHistory", "AlarmName": "manual"})
    assert status == 200
    summaries = [e.text for e in root.iter(f"{NS}HistorySummary")]
    assert summaries == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        'Alarm "manual" created',
    ]


def test_describe_alarms_by_type_relation_and_token(api: CloudWatchApi) -> None:
    assert cbor(api, "PutMetricAlarm", _alarm("typed"))[0] == 200

    def names(**params: Any) -> list[str]:
        status, _, doc = cbor(api, "DescribeAlarms", params)
        assert status == 200, doc
        return [a["AlarmName"] for a in doc["MetricAlarms"]]

    assert names() == ["typed"]
    assert names(AlarmTypes=["MetricAlarm", "CompositeAlarm"]) == ["typed"]
    # Only composite alarms asked for, or a composite alarm's relations: none here.
    assert names(AlarmTypes=["CompositeAlarm"]) == []
    assert names(ChildrenOfAlarmName="typed") == []
    assert names(ParentsOfAlarmName="typed") == []
    status, _, doc = cbor(api, "DescribeAlarms", {"NextToken": "typed"})
    assert (status, doc["__type"].rsplit("#", 1)[-1]) == (400, "InvalidNextToken")


def test_alarm_periods_and_windows(api: CloudWatchApi) -> None:
    for period in (10, 20, 30, 60, 3600):
        assert cbor(api, "PutMetricAlarm", _alarm(f"p{period}", Period=period))[0] == 200
    for period in (1, 5, 45, 90):
        assert cbor(api, "PutMetricAlarm", _alarm("bad", Period=period))[0] == 400
    status, _, doc = cbor(api, "PutMetricAlarm", _alarm("week", Period=86400, EvaluationPeriods=8))
    assert (status, doc["message"]) == (
        400,
        "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must "
        "be <= 604800) for alarms using period >= 3600",
    )
    status, _, doc = cbor(api, "PutMetricAlarm", _alarm("day", Period=60, EvaluationPeriods=1441))
    assert (status, doc["message"]) == (
        400,
        "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must "
        "be <= 86400)",
    )
    low = {k: v for k, v in _alarm("low", ExtendedStatistic="p90").items() if k != "Statistic"}
    assert (
        cbor(api, "PutMetricAlarm", low | {"EvaluateLowSampleCountPercentile": "ignore"})[0] == 200
    )
    assert (
        cbor(api, "PutMetricAlarm", low | {"EvaluateLowSampleCountPercentile": "maybe"})[0] == 400
    )


def test_describe_alarms_for_metric(api: CloudWatchApi) -> None:
    dims = [{"Name": "Shop", "Value": "north"}]
    assert cbor(api, "PutMetricAlarm", _alarm("north", Dimensions=dims))[0] == 200
    assert cbor(api, "PutMetricAlarm", _alarm("all", Period=300))[0] == 200
    assert cbor(api, "PutMetricAlarm", _alarm("other", MetricName="Refunds"))[0] == 200

    def names(**params: Any) -> list[str]:
        query = {"Namespace": "Shop", "MetricName": "Orders"} | params
        status, _, doc = cbor(api, "DescribeAlarmsForMetric", query)
        assert status == 200, doc
        assert set(doc) == {"MetricAlarms"}
        return [a["AlarmName"] for a in doc["MetricAlarms"]]

    assert names() == ["all"]  # the metric without dimensions
    assert names(Dimensions=dims) == ["north"]
    assert names(Period=60) == []
    assert names(Period=300, Statistic="Sum") == ["all"]
    assert cbor(api, "DescribeAlarmsForMetric", {"Namespace": "Shop"})[0] == 400


def test_a_member_sent_as_null_is_not_sent(api: CloudWatchApi) -> None:
    low = _alarm("nulls", Statistic=None, ExtendedStatistic="p90", AlarmDescription=None)
    assert cbor(api, "PutMetricAlarm", low)[0] == 200
    (alarm,) = cbor(api, "DescribeAlarms", {"AlarmNames": ["nulls"]})[2]["MetricAlarms"]
    assert "Statistic" not in alarm
    assert "AlarmDescription" not in alarm
