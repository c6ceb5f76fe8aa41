"""Metrics, as users read them: CloudWatch through boto3 (RPC v2 CBOR), the query
protocol (older botocore) and the AWS CLI v1 (awsJson 1.0), Prometheus ``/metrics``,
and ``lambdad cost``, all agreeing with the invocations the test made and their REPORT
lines.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from e2e.aws_side import async_stats
from e2e.helpers import OTHER, LambdadServer, client_env, handler_zip, powertools_zip, run_lambdad
from e2e.invoke_support import REPORT_RE, wait_for_log

SOURCE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return event
"""
MEMORY = 256


@dataclass
class Made:
    name: str
    reports: list[dict[str, str]] = field(default_factory=list)
    errors: int = 0
    on_version: int = 0


@pytest.fixture(scope="module")
def made(lambdad: LambdadServer) -> Iterator[Made]:
    lam = lambdad.client("lambda")
    name = f"metrics-{datetime.now(UTC):%H%M%S%f}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler",
        Code={"ZipFile": handler_zip(SOURCE)},
        MemorySize=MEMORY,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    lam.publish_version(FunctionName=name)
    out = Made(name)
    for i in range(9):
        fail = i in (2, 5)
        args: dict[str, Any] = {"Qualifier": "1"} if i >= 7 else {}
        resp = lam.invoke(
            FunctionName=name, Payload=json.dumps({"fail": fail}), LogType="Tail", **args
        )
        assert ("FunctionError" in resp) == fail
        tail = base64.b64decode(resp["LogResult"]).decode()
        report = REPORT_RE.search(tail)
        assert report is not None, tail
        out.reports.append(report.groupdict())
        out.errors += fail
        out.on_version += bool(args)
    yield out
    lam.delete_function(FunctionName=name)


def _window() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=5)}


def _sum(points: list[dict[str, Any]], stat: str = "Sum") -> float:
    return sum(p[stat] for p in points)


def test_boto3_statistics_count_every_invocation(lambdad: LambdadServer, made: Made) -> None:
    cw = lambdad.client("cloudwatch")
    dims = [{"Name": "FunctionName", "Value": made.name}]

    def stats(metric: str, dimensions: list[dict[str, str]], **kw: Any) -> list[dict[str, Any]]:
        resp = cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=dimensions,
            Period=3600,
            **_window(),
            **kw,
        )
        return list(resp["Datapoints"])

    assert _sum(stats("Invocations", dims, Statistics=["Sum"])) == 9
    assert _sum(stats("Errors", dims, Statistics=["Sum"])) == made.errors
    resource = [*dims, {"Name": "Resource", "Value": f"{made.name}:1"}]
    assert _sum(stats("Invocations", resource, Statistics=["Sum"])) == made.on_version
    durations = stats(
        "Duration",
        dims,
        Statistics=["SampleCount", "Maximum", "Minimum"],
        ExtendedStatistics=["p50"],
    )
    assert _sum(durations, "SampleCount") == 9
    reported = [float(r["duration"]) for r in made.reports]
    # REPORT lines print two decimals; metrics keep the full value.
    assert max(p["Maximum"] for p in durations) == pytest.approx(max(reported), abs=0.006)
    assert min(p["Minimum"] for p in durations) == pytest.approx(min(reported), abs=0.006)
    assert durations[0]["Unit"] == "Milliseconds"
    assert "p50" in durations[0]["ExtendedStatistics"]

    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "e",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": dims,
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "i",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": dims,
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            },
            {"Id": "rate", "Expression": "100 * e / i", "Label": "error rate"},
        ],
        **_window(),
    )
    results = {r["Id"]: r for r in data["MetricDataResults"]}
    assert set(results) == {"i", "rate"}
    assert sum(results["i"]["Values"]) == 9
    assert results["rate"]["Label"] == "error rate"
    assert results["rate"]["Values"] == [pytest.approx(100 * made.errors / 9)]

    listed = cw.list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": made.name}]
    )
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert {"Invocations", "Errors", "Duration", "ConcurrentExecutions"} <= names
    # Another account sees none of it.
    other = lambdad.client("cloudwatch", account=OTHER.account_id)
    assert (
        other.list_metrics(Dimensions=[{"Name": "FunctionName", "Value": made.name}])["Metrics"]
        == []
    )
    assert (
        other.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=dims,
            Period=3600,
            Statistics=["Sum"],
            **_window(),
        )["Datapoints"]
        == []
    )


def test_put_metric_data_and_errors(lambdad: LambdadServer, made: Made) -> None:
    cw = lambdad.client("cloudwatch")
    ns = f"Shop/{made.name}"
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Orders", "Value": 3, "Unit": "Count"},
            {"MetricName": "Orders", "Values": [1, 2], "Counts": [1, 2]},
            {
                "MetricName": "Latency",
                "StatisticValues": {"SampleCount": 4, "Sum": 40, "Minimum": 5, "Maximum": 20},
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=ns, MetricName="Orders", Period=60, Statistics=["Sum", "SampleCount"], **_window()
    )["Datapoints"]
    assert (_sum(got), _sum(got, "SampleCount")) == (8, 4)
    with pytest.raises(ClientError) as err:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "X", "Value": 1}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        cw.get_metric_statistics(
            Namespace=ns, MetricName="Orders", Period=7, Statistics=["Sum"], **_window()
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    cw.put_metric_alarm(
        AlarmName=f"{made.name}-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": made.name}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=100,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    alarms = cw.describe_alarms(AlarmNamePrefix=made.name)["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == [f"{made.name}-errors"]
    assert alarms[0]["StateValue"] == "OK"
    cw.delete_alarms(AlarmNames=[f"{made.name}-errors"])
    assert cw.describe_alarms(AlarmNamePrefix=made.name)["MetricAlarms"] == []


def _query_protocol_client(lambdad: LambdadServer, tmp: Path) -> Any:
    """A botocore client that speaks CloudWatch's query protocol (as botocore < 1.40
    and other SDKs do): the installed model with its protocol set to ``query``."""
    loader = botocore.loaders.create_loader()
    doc = loader.load_service_model("cloudwatch", "service-2", "2010-08-01")
    rules = loader.load_service_model("cloudwatch", "endpoint-rule-set-1", "2010-08-01")
    doc["metadata"]["protocol"] = "query"
    doc["metadata"]["protocols"] = ["query"]
    doc["metadata"].pop("awsQueryCompatible", None)
    dest = tmp / "cloudwatch" / "2010-08-01"
    dest.mkdir(parents=True)
    (dest / "service-2.json").write_text(json.dumps(doc))
    (dest / "endpoint-rule-set-1.json").write_text(json.dumps(rules))
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp))
    cred = lambdad.credential
    return boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=lambdad.endpoint,
        region_name=lambdad.region,
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_query_protocol_and_aws_cli(lambdad: LambdadServer, made: Made, tmp_path: Path) -> None:
    cw = _query_protocol_client(lambdad, tmp_path)
    assert cw.meta.service_model.protocol == "query"
    dims = [{"Name": "FunctionName", "Value": made.name}]
    got = cw.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=dims,
        Period=3600,
        Statistics=["Sum", "Average"],
        **_window(),
    )
    assert _sum(got["Datapoints"]) == 9
    with pytest.raises(ClientError) as err:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Period=60, **_window()
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"

    window = _window()
    out = lambdad.aws(
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "AWS/Lambda",
        "--metric-name",
        "Errors",
        "--dimensions",
        f"Name=FunctionName,Value={made.name}",
        "--start-time",
        window["StartTime"].isoformat(),
        "--end-time",
        window["EndTime"].isoformat(),
        "--period",
        "3600",
        "--statistics",
        "Sum",
        "SampleCount",
    )
    assert _sum(out["Datapoints"]) == made.errors
    assert _sum(out["Datapoints"], "SampleCount") == 9


def test_prometheus_exposition(lambdad: LambdadServer, made: Made) -> None:
    resp = lambdad.request("GET", "/metrics", sign=False)
    assert resp.status == 200
    families = {f.name: f for f in text_string_to_metric_families(resp.body.decode())}
    labels = {
        "account": lambdad.credential.account_id,
        "region": lambdad.region,
        "function_name": made.name,
    }

    def value(family: str, sample: str, **extra: str) -> float:
        for s in families[family].samples:
            if s.name == sample and s.labels == {**labels, **extra}:
                return float(s.value)
        raise AssertionError(f"no {sample} for {made.name}")

    assert value("lambdad_invocations", "lambdad_invocations_total") == 9
    assert value("lambdad_errors", "lambdad_errors_total") == made.errors
    assert value("lambdad_duration_seconds", "lambdad_duration_seconds_count") == 9
    assert value("lambdad_duration_seconds", "lambdad_duration_seconds_bucket", le="+Inf") == 9
    total_s = sum(float(r["duration"]) for r in made.reports) / 1000
    assert value("lambdad_duration_seconds", "lambdad_duration_seconds_sum") == pytest.approx(
        total_s, abs=0.001
    )


def test_cost_matches_the_report_lines(lambdad: LambdadServer, made: Made) -> None:
    proc = run_lambdad("cost", "--function", made.name, "--json", env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["function"] for r in rows] == [made.name]
    row = rows[0]
    billed_ms = sum(int(r["billed"]) for r in made.reports)
    gb_seconds = billed_ms / 1000 * MEMORY / 1024
    assert row["requests"] == 9
    assert row["gb_seconds"] == pytest.approx(gb_seconds, abs=1e-6)
    gross = 9 * 0.20 / 1e6 + gb_seconds * 0.0000166667
    assert row["cost_before_free_tier_usd"] == pytest.approx(gross, rel=1e-6)
    # A test server's month is far inside the free tier: all of it is free.
    assert row["free_tier"] == {
        "requests": pytest.approx(9),
        "gb_seconds": pytest.approx(gb_seconds, abs=1e-6),
    }
    assert math.isclose(row["cost_usd"], 0.0, abs_tol=1e-9)
    proc = run_lambdad(
        "cost", "--function", made.name, "--versions", "--json", env=client_env(lambdad)
    )
    versions = {v["version"]: v for v in map(json.loads, proc.stdout.splitlines())}
    assert (versions["$LATEST"]["requests"], versions["1"]["requests"]) == (7, 2)
    assert versions["1"]["architecture"] == "x86_64"
    assert sum(v["billed_ms"] for v in versions.values()) == billed_ms
    # A name that was not invoked (a typo) is said, not an empty table.
    proc = run_lambdad("cost", "--function", f"{made.name}-typo", env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    assert f"no invocations of {made.name}-typo in " in proc.stderr


def test_async_events_received_aged_and_dropped(lambdad: LambdadServer, made: Made) -> None:
    lam, cw = lambdad.client("lambda"), lambdad.client("cloudwatch")
    lam.put_function_event_invoke_config(FunctionName=made.name, MaximumRetryAttempts=0)
    for fail in (False, True):
        lam.invoke(
            FunctionName=made.name, InvocationType="Event", Payload=json.dumps({"fail": fail})
        )
    dims = [{"Name": "FunctionName", "Value": made.name}]

    def total(metric: str, stat: str = "Sum") -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=3600,
            Statistics=[stat], **_window(),
        )["Datapoints"]  # fmt: skip
        return _sum(points, stat)

    deadline = time.monotonic() + 20
    # Both events run (one fails, is not retried, and is dropped).
    while (total("AsyncEventsDropped") < 1 or total("Invocations") < 11) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert total("AsyncEventsDropped") == 1
    assert total("AsyncEventsReceived") == 2
    assert total("AsyncEventAge", "SampleCount") == 2
    assert total("Invocations") == 11


POWERTOOLS_METRICS = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()


@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="Orders", unit=MetricUnit.Count, value=event["orders"])
    return {}
"""


def test_powertools_metrics_become_custom_metrics(lambdad: LambdadServer, made: Made) -> None:
    lam, cw = lambdad.client("lambda"), lambdad.client("cloudwatch")
    name, namespace = f"{made.name}-pt", f"Shop-{made.name}"
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler", Timeout=30,
        Code={"ZipFile": powertools_zip(POWERTOOLS_METRICS)},
        Environment={"Variables": {
            "POWERTOOLS_METRICS_NAMESPACE": namespace, "POWERTOOLS_SERVICE_NAME": "orders",
        }},
    )  # fmt: skip
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
        for n in (2, 3):
            resp = lam.invoke(FunctionName=name, Payload=json.dumps({"orders": n}))
            assert "FunctionError" not in resp, resp["Payload"].read()
        service = [{"Name": "service", "Value": "orders"}]
        got = cw.get_metric_statistics(
            Namespace=namespace, MetricName="Orders", Dimensions=service,
            Period=60, Statistics=["Sum", "SampleCount"], **_window(),
        )["Datapoints"]  # fmt: skip
        assert (_sum(got), _sum(got, "SampleCount")) == (5, 2)
        assert {p["Unit"] for p in got} == {"Count"}
    finally:
        lam.delete_function(FunctionName=name)


def test_metrics_survive_a_restart_and_the_scrape_token(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    server = lambdad_factory(env={"LAMBDAD_METRICS_TOKEN": "scrape-secret"})
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="kept", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler", Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="kept", WaiterConfig={"Delay": 0.05})
    for _ in range(3):
        lam.invoke(FunctionName="kept", Payload=b"{}")
    assert server.request("GET", "/metrics", sign=False).status == 401
    wrong = server.request("GET", "/metrics", sign=False, headers={"Authorization": "Bearer x"})
    assert wrong.status == 401
    scraped = server.request(
        "GET", "/metrics", sign=False, headers={"Authorization": "Bearer scrape-secret"}
    )
    assert scraped.status == 200
    invocations = [
        s.value
        for f in text_string_to_metric_families(scraped.body.decode())
        for s in f.samples
        if s.name == "lambdad_invocations_total" and s.labels["function_name"] == "kept"
    ]
    assert invocations == [3]

    assert server.stop() == 0  # what was recorded in memory is flushed on the way out
    server.start()
    cw = server.client("cloudwatch")
    got = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Period=3600, Statistics=["Sum"],
        Dimensions=[{"Name": "FunctionName", "Value": "kept"}], **_window(),
    )["Datapoints"]  # fmt: skip
    assert _sum(got) == 3
    proc = run_lambdad("cost", "--json", env=client_env(server))
    assert [json.loads(line)["requests"] for line in proc.stdout.splitlines()] == [3]


CATCHER = """
import json


def handler(event, context):
    print("CAUGHT " + json.dumps(event))
    return {}
"""


def test_alarm_state_change_is_an_eventbridge_event(
    lambdad_factory: Callable[..., LambdadServer],
) -> None:
    # A server of its own: on the shared one, other modules' asynchronous events (the
    # catcher's invoke is one) may queue ahead for longer than this test waits.
    lambdad = lambdad_factory()
    lam, cw, events = (lambdad.client(s) for s in ("lambda", "cloudwatch", "events"))
    made = Made(name=f"alarmed-{datetime.now(UTC):%H%M%S%f}")
    lam.create_function(
        FunctionName=made.name, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler", Code={"ZipFile": handler_zip(SOURCE)},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=made.name, WaiterConfig={"Delay": 0.05})
    catcher = f"{made.name}-catch"
    arn = lam.create_function(
        FunctionName=catcher, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler", Code={"ZipFile": handler_zip(CATCHER)},
    )["FunctionArn"]  # fmt: skip
    alarm = f"{made.name}-failing"
    rule = f"{made.name}-alarms"
    try:
        pattern = {"source": ["aws.cloudwatch"], "detail": {"alarmName": [alarm]}}
        rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
        lam.add_permission(
            FunctionName=catcher, StatementId="alarms", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn,
        )  # fmt: skip
        events.put_targets(Rule=rule, Targets=[{"Id": "catcher", "Arn": arn}])
        cw.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/Lambda", MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": made.name}], Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
        lam.invoke(FunctionName=made.name, Payload=json.dumps({"fail": True}))
        (described,) = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        assert described["StateValue"] == "ALARM"
        try:
            messages = wait_for_log(lambdad, catcher, "CAUGHT", timeout=60)
        except AssertionError as exc:
            # Which way it went: never queued, queued and retried or requeued, or run.
            row = async_stats(lambdad, catcher)
            raise AssertionError(f"{exc}\nthe catcher's async-stats: {row}") from None
        (caught,) = [json.loads(m.split("CAUGHT ", 1)[1]) for m in messages if "CAUGHT" in m]
        assert caught["detail-type"] == "CloudWatch Alarm State Change"
        assert caught["resources"] == [described["AlarmArn"]]
        assert caught["detail"]["state"]["value"] == "ALARM"
        assert caught["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
        metric = caught["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        assert metric == {
            "namespace": "AWS/Lambda",
            "name": "Errors",
            "dimensions": {"FunctionName": made.name},
        }
    finally:
        cw.delete_alarms(AlarmNames=[alarm])
        events.remove_targets(Rule=rule, Ids=["catcher"])
        events.delete_rule(Name=rule)
        lam.delete_function(FunctionName=catcher)


def test_provisioned_concurrency_invocations(lambdad: LambdadServer, made: Made) -> None:
    lam, cw = lambdad.client("lambda"), lambdad.client("cloudwatch")
    lam.put_provisioned_concurrency_config(
        FunctionName=made.name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    try:
        deadline = time.monotonic() + 20
        while (
            lam.get_provisioned_concurrency_config(FunctionName=made.name, Qualifier="1")["Status"]
            != "READY"
        ):
            assert time.monotonic() < deadline, "provisioned concurrency not READY"
            time.sleep(0.05)
        lam.invoke(FunctionName=made.name, Qualifier="1", Payload=b"{}")
        dims = [
            {"Name": "FunctionName", "Value": made.name},
            {"Name": "Resource", "Value": f"{made.name}:1"},
        ]
        got = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="ProvisionedConcurrencyInvocations",
            Dimensions=dims, Period=3600, Statistics=["Sum"], **_window(),
        )["Datapoints"]  # fmt: skip
        assert _sum(got) == 1
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName=made.name, Qualifier="1")
