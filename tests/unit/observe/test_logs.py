"""LogStore (lambdad.observe.logs and its log_queries, log_shapes, filter_pattern):
buffering, retention, CloudWatch Logs shapes, tokens and filter patterns.

Every test runs on a fake clock against both storages (``store.logs_sqlite`` on a
file in a temporary directory, ``store.logs_memory``): the same behaviour from each.
Two tests reopen a SQLite file to check that events and their ids survive a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.errors import ResourceNotFoundException
from lambdad.observe.filter_pattern import FilterPattern
from lambdad.observe.log_shapes import InvalidParameterException, ResourceAlreadyExistsException
from lambdad.observe.logs import LogStore
from lambdad.store.logs import LogStorage
from lambdad.store.logs_memory import MemoryLogStorage
from lambdad.store.logs_sqlite import SqliteLogStorage

ACCOUNT = "123456789012"
REGION = "us-east-1"
GROUP = "/aws/lambda/fn"
STREAM = "2026/01/01/[$LATEST]0123abcd"
T0 = 1_767_225_600_000  # FakeClock's start, in ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeStore = Callable[..., LogStore]


@pytest.fixture(params=["sqlite", "memory"])
def new_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], LogStorage]:
    made = iter(range(1000))

    def new() -> LogStorage:
        if request.param == "memory":
            return MemoryLogStorage()
        return SqliteLogStorage(tmp_path / f"logs{next(made)}.db")

    return new


@pytest.fixture
def make_store(clock: FakeClock, new_storage: Callable[[], LogStorage]) -> Iterator[MakeStore]:
    made: list[LogStore] = []

    def make(*, opened: bool = True, **kwargs: Any) -> LogStore:
        store = LogStore(new_storage(), clock, **kwargs)
        if opened:
            store.open()
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> LogStore:
    return make_store()


def put(
    store: LogStore, *messages: str, stream: str = STREAM, ts: int = T0, group: str = GROUP
) -> None:
    for i, m in enumerate(messages):
        store.put(ACCOUNT, REGION, group, stream, ts + i, m)


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events]


def get(store: LogStore, **kwargs: Any) -> dict[str, Any]:
    return store.get_log_events(ACCOUNT, REGION, GROUP, STREAM, **kwargs)


def filt(store: LogStore, **kwargs: Any) -> dict[str, Any]:
    return store.filter_log_events(ACCOUNT, REGION, GROUP, **kwargs)


def stored_rows(store: LogStore) -> int:
    """Events stored, read without the flush every query does first."""
    stored = store.storage.group_events(
        ACCOUNT, REGION, GROUP, streams=None, stream_prefix=None, start=0, end=2**62,
        after=None, forward=True, limit=1_000_000,
    )  # fmt: skip
    return len(stored)


# -- put: the hot path ---------------------------------------------------------------------


def test_put_needs_no_database_and_queries_see_every_put(make_store: MakeStore) -> None:
    store = make_store(opened=False)
    put(store, "before open")  # buffered: no connection exists yet
    store.open()
    put(store, "after open")
    assert stored_rows(store) == 0
    assert messages(get(store, start_from_head=True)["events"]) == ["before open", "after open"]


def test_full_buffer_drops_oldest_events_and_counts_them(make_store: MakeStore) -> None:
    store = make_store(buffer_events=3)
    put(store, "a", "b", "c", "d", "e")
    assert store.dropped == 2
    assert messages(get(store)["events"]) == ["c", "d", "e"]
    put(store, "f")  # the buffer was emptied by the flush: room again
    assert store.dropped == 2


def test_buffer_is_bounded_in_size_not_only_in_count(make_store: MakeStore) -> None:
    store = make_store(buffer_events=1000, buffer_bytes=25)
    put(store, "x" * 10, "y" * 10, "z" * 10)
    assert store.dropped == 1
    assert messages(get(store)["events"]) == ["y" * 10, "z" * 10]


def test_an_event_larger_than_the_whole_buffer_is_still_kept(make_store: MakeStore) -> None:
    store = make_store(buffer_bytes=4)
    put(store, "x" * 10)
    assert messages(get(store)["events"]) == ["x" * 10]


def test_long_messages_are_truncated_at_a_character_boundary(make_store: MakeStore) -> None:
    store = make_store(max_event_bytes=5)
    put(store, "é" * 10, "abc")  # é is two bytes: 2.5 fit, 2 are kept
    assert messages(get(store, start_from_head=True)["events"]) == ["éé", "abc"]


def test_undecodable_output_is_stored_with_replacement_characters(store: LogStore) -> None:
    put(store, "bad \udcff byte")
    assert messages(get(store)["events"]) == ["bad ? byte"]


# -- groups and streams ----------------------------------------------------------------------


def test_put_creates_the_group_and_stream_in_cloudwatch_shapes(store: LogStore) -> None:
    put(store, "hello", "world")
    groups = store.describe_log_groups(ACCOUNT, REGION)
    assert groups == {
        "logGroups": [
            {
                "logGroupName": GROUP,
                "creationTime": T0,
                "metricFilterCount": 0,
                "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*",
                "storedBytes": 10,
                "logGroupClass": "STANDARD",
                "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}",
            }
        ]
    }
    streams = store.describe_log_streams(ACCOUNT, REGION, GROUP)
    assert streams == {
        "logStreams": [
            {
                "logStreamName": STREAM,
                "creationTime": T0,
                "firstEventTimestamp": T0,
                "lastEventTimestamp": T0 + 1,
                "lastIngestionTime": T0,
                "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:log-stream:{STREAM}",
                "storedBytes": 10,
            }
        ]
    }


def test_accounts_and_regions_are_separate_worlds(store: LogStore) -> None:
    store.put("111111111111", REGION, GROUP, STREAM, T0, "theirs")
    store.put(ACCOUNT, "eu-west-1", GROUP, STREAM, T0, "other region")
    assert store.describe_log_groups(ACCOUNT, REGION) == {"logGroups": []}
    with pytest.raises(ResourceNotFoundException):
        get(store)


def test_describe_log_groups_filters_by_prefix_or_pattern_and_pages(store: LogStore) -> None:
    for name in ("/aws/lambda/c", "/aws/lambda/a", "/custom/x", "/aws/lambda/b"):
        put(store, "m", group=name)
    prefixed = store.describe_log_groups(ACCOUNT, REGION, prefix="/aws/lambda/")
    assert [g["logGroupName"] for g in prefixed["logGroups"]] == [
        "/aws/lambda/a",
        "/aws/lambda/b",
        "/aws/lambda/c",
    ]
    matched = store.describe_log_groups(ACCOUNT, REGION, pattern="stom")
    assert [g["logGroupName"] for g in matched["logGroups"]] == ["/custom/x"]
    seen: list[str] = []
    token = None
    while True:
        page = store.describe_log_groups(ACCOUNT, REGION, limit=3, token=token)
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == ["/aws/lambda/a", "/aws/lambda/b", "/aws/lambda/c", "/custom/x"]
    with pytest.raises(InvalidParameterException):
        store.describe_log_groups(ACCOUNT, REGION, prefix="/a", pattern="b")


def test_describe_log_streams_orders_by_last_event_time(store: LogStore) -> None:
    put(store, "old", stream="s-old", ts=T0)
    put(store, "new", stream="s-new", ts=T0 + 500)
    put(store, "mid", stream="s-mid", ts=T0 + 100)
    newest_first = store.describe_log_streams(
        ACCOUNT, REGION, GROUP, order_by="LastEventTime", descending=True, limit=2
    )
    assert [s["logStreamName"] for s in newest_first["logStreams"]] == ["s-new", "s-mid"]
    rest = store.describe_log_streams(
        ACCOUNT,
        REGION,
        GROUP,
        order_by="LastEventTime",
        descending=True,
        token=newest_first["nextToken"],
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["s-old"]
    assert "nextToken" not in rest
    by_name = store.describe_log_streams(ACCOUNT, REGION, GROUP, prefix="s-m")
    assert [s["logStreamName"] for s in by_name["logStreams"]] == ["s-mid"]
    with pytest.raises(InvalidParameterException, match="LastEventTime"):
        store.describe_log_streams(ACCOUNT, REGION, GROUP, prefix="s", order_by="LastEventTime")


def test_missing_group_and_stream_say_which(store: LogStore) -> None:
    with pytest.raises(
        ResourceNotFoundException, match=r"^The specified log group does not exist\.$"
    ):
        store.describe_log_streams(ACCOUNT, REGION, GROUP)
    put(store, "x")
    with pytest.raises(
        ResourceNotFoundException, match=r"^The specified log stream does not exist\.$"
    ):
        store.get_log_events(ACCOUNT, REGION, GROUP, "nope")
    with pytest.raises(ResourceNotFoundException, match="log group"):
        store.filter_log_events(ACCOUNT, REGION, "/aws/lambda/other")


def test_create_and_delete(store: LogStore, clock: FakeClock) -> None:
    store.create_log_group(ACCOUNT, REGION, GROUP)
    with pytest.raises(ResourceAlreadyExistsException):
        store.create_log_group(ACCOUNT, REGION, GROUP)
    store.create_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    with pytest.raises(ResourceAlreadyExistsException):
        store.create_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    with pytest.raises(ResourceNotFoundException):
        store.create_log_stream(ACCOUNT, REGION, "/nope", STREAM)
    put(store, "x")
    store.delete_log_group(ACCOUNT, REGION, GROUP)
    assert store.describe_log_groups(ACCOUNT, REGION) == {"logGroups": []}
    clock.advance(5)
    put(store, "again")  # recreated implicitly, as a new group
    [group] = store.describe_log_groups(ACCOUNT, REGION)["logGroups"]
    assert group["creationTime"] == T0 + 5000
    assert messages(filt(store)["events"]) == ["again"]


# -- retention ---------------------------------------------------------------------------------


def test_retention_keeps_the_newest_events_of_each_group(make_store: MakeStore) -> None:
    store = make_store(retention_events=4)
    put(store, "a1", "a2", "a3", stream="a", ts=T0)
    put(store, "b1", "b2", "b3", stream="b", ts=T0 + 10)
    put(store, "other", group="/aws/lambda/other")
    assert messages(filt(store)["events"]) == ["a3", "b1", "b2", "b3"]
    [group] = store.describe_log_groups(ACCOUNT, REGION, prefix=GROUP)["logGroups"]
    assert group["storedBytes"] == 8
    streams = {
        s["logStreamName"]: s
        for s in store.describe_log_streams(ACCOUNT, REGION, GROUP)["logStreams"]
    }
    assert streams["a"]["firstEventTimestamp"] == T0 + 2
    assert streams["a"]["storedBytes"] == 2
    # Later flushes keep trimming: the bound holds over time, not only per batch.
    put(store, "b4", "b5", stream="b", ts=T0 + 20)
    assert messages(filt(store)["events"]) == ["b2", "b3", "b4", "b5"]
    assert messages(store.filter_log_events(ACCOUNT, REGION, "/aws/lambda/other")["events"]) == [
        "other"
    ]


def test_retention_in_days_expires_old_events(store: LogStore, clock: FakeClock) -> None:
    put(store, "old", ts=T0 - 3 * 86_400_000)
    put(store, "recent", ts=T0)
    store.put_retention_policy(ACCOUNT, REGION, GROUP, 1)
    assert messages(filt(store)["events"]) == ["recent"]
    [group] = store.describe_log_groups(ACCOUNT, REGION)["logGroups"]
    assert group["retentionInDays"] == 1
    with pytest.raises(InvalidParameterException, match="retentionInDays"):
        store.put_retention_policy(ACCOUNT, REGION, GROUP, 2)
    store.put_retention_policy(ACCOUNT, REGION, GROUP, None)
    assert "retentionInDays" not in store.describe_log_groups(ACCOUNT, REGION)["logGroups"][0]


# -- GetLogEvents ------------------------------------------------------------------------------


def test_get_log_events_pages_forward_until_the_token_repeats(store: LogStore) -> None:
    put(store, *(f"m{i}" for i in range(7)))
    got: list[str] = []
    page = get(store, start_from_head=True, limit=3)
    while page["events"]:
        got += messages(page["events"])
        token = page["nextForwardToken"]
        page = get(store, token=token, limit=3)
    assert got == [f"m{i}" for i in range(7)]
    assert page["nextForwardToken"] == token
    assert token.startswith("f/")
    # New events after the end are found with the same token.
    put(store, "late", ts=T0 + 100)
    assert messages(get(store, token=token)["events"]) == ["late"]


def test_get_log_events_defaults_to_the_latest_and_pages_backward(store: LogStore) -> None:
    put(store, *(f"m{i}" for i in range(5)))
    latest = get(store, limit=2)
    assert messages(latest["events"]) == ["m3", "m4"]
    assert latest["nextBackwardToken"].startswith("b/")
    older = get(store, token=latest["nextBackwardToken"], limit=2)
    assert messages(older["events"]) == ["m1", "m2"]
    oldest = get(store, token=older["nextBackwardToken"], limit=2)
    assert messages(oldest["events"]) == ["m0"]
    end = get(store, token=oldest["nextBackwardToken"], limit=2)
    assert end["events"] == []
    assert end["nextBackwardToken"] == oldest["nextBackwardToken"]


def test_get_log_events_shape_and_time_range(store: LogStore) -> None:
    put(store, "a", "b", "c", "d")  # at T0 .. T0+3
    page = get(store, start_time=T0 + 1, end_time=T0 + 3, start_from_head=True)
    assert page["events"] == [
        {"timestamp": T0 + 1, "message": "b", "ingestionTime": T0},
        {"timestamp": T0 + 2, "message": "c", "ingestionTime": T0},
    ]
    assert set(page) == {"events", "nextForwardToken", "nextBackwardToken"}


def test_get_log_events_orders_by_timestamp_not_arrival(store: LogStore) -> None:
    store.put(ACCOUNT, REGION, GROUP, STREAM, T0 + 5, "second")
    store.put(ACCOUNT, REGION, GROUP, STREAM, T0 + 1, "first")
    assert messages(get(store, start_from_head=True)["events"]) == ["first", "second"]


def test_an_empty_stream_still_gives_tokens(store: LogStore) -> None:
    store.create_log_group(ACCOUNT, REGION, GROUP)
    store.create_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    page = get(store, start_from_head=True)
    assert page["events"] == []
    put(store, "first")
    assert messages(get(store, token=page["nextForwardToken"])["events"]) == ["first"]


def test_responses_stop_at_one_megabyte(store: LogStore) -> None:
    big = "x" * 200_000
    put(store, *([big] * 8))
    page = get(store, start_from_head=True)
    assert len(page["events"]) == 5
    assert len(get(store, token=page["nextForwardToken"])["events"]) == 3


@pytest.mark.parametrize("token", ["nonsense", "f/1", "x/1/2", "f/a/b"])
def test_a_malformed_token_is_an_invalid_parameter(store: LogStore, token: str) -> None:
    put(store, "x")
    with pytest.raises(InvalidParameterException, match="nextToken"):
        get(store, token=token)
    with pytest.raises(InvalidParameterException, match="nextToken"):
        filt(store, token=token)
    with pytest.raises(InvalidParameterException, match="nextToken"):
        store.describe_log_groups(ACCOUNT, REGION, token=token)


# -- FilterLogEvents ---------------------------------------------------------------------------


def test_filter_interleaves_streams_by_timestamp_with_stable_event_ids(store: LogStore) -> None:
    store.put(ACCOUNT, REGION, GROUP, "s1", T0 + 2, "s1 late")
    store.put(ACCOUNT, REGION, GROUP, "s2", T0 + 1, "s2 early")
    store.put(ACCOUNT, REGION, GROUP, "s1", T0 + 3, "s1 last")
    first = filt(store)
    assert [(e["logStreamName"], e["message"]) for e in first["events"]] == [
        ("s2", "s2 early"),
        ("s1", "s1 late"),
        ("s1", "s1 last"),
    ]
    assert set(first["events"][0]) == {
        "logStreamName",
        "timestamp",
        "message",
        "ingestionTime",
        "eventId",
    }
    assert first["searchedLogStreams"] == []
    assert "nextToken" not in first
    assert [e["eventId"] for e in filt(store)["events"]] == [e["eventId"] for e in first["events"]]
    assert len({e["eventId"] for e in first["events"]}) == 3


def test_filter_pages_with_next_token(store: LogStore) -> None:
    put(store, *(f"m{i}" for i in range(5)))
    got: list[str] = []
    pages = 0
    token = None
    while True:
        page = filt(store, limit=2, token=token)
        got += messages(page["events"])
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert got == [f"m{i}" for i in range(5)]
    assert pages == 3


def test_filter_newest_first_when_not_from_head(store: LogStore) -> None:
    put(store, "a", "b", "c")
    page = filt(store, limit=2, start_from_head=False)
    assert messages(page["events"]) == ["c", "b"]
    assert messages(filt(store, token=page["nextToken"])["events"]) == ["a"]


def test_filter_by_stream_names_prefix_and_time(store: LogStore) -> None:
    store.put(ACCOUNT, REGION, GROUP, "app/1", T0, "one")
    store.put(ACCOUNT, REGION, GROUP, "app/2", T0 + 10, "two")
    store.put(ACCOUNT, REGION, GROUP, "web/1", T0 + 20, "web")
    assert messages(filt(store, stream_names=["app/2", "web/1", "missing"])["events"]) == [
        "two",
        "web",
    ]
    assert messages(filt(store, stream_prefix="app/")["events"]) == ["one", "two"]
    # FilterLogEvents includes endTime (GetLogEvents does not).
    assert messages(filt(store, start_time=T0 + 10, end_time=T0 + 20)["events"]) == ["two", "web"]
    with pytest.raises(InvalidParameterException):
        filt(store, stream_names=["app/1"], stream_prefix="app/")


def test_filter_pattern_selects_events(store: LogStore) -> None:
    put(
        store,
        "START RequestId: 1 Version: $LATEST",
        "[ERROR] timeout talking to db",
        "[WARN] slow response",
        "[INFO] all good",
        "[ERROR] DEBUG dump",
    )
    assert messages(filt(store, filter_pattern="ERROR timeout")["events"]) == [
        "[ERROR] timeout talking to db"
    ]
    assert messages(filt(store, filter_pattern='"slow response"')["events"]) == [
        "[WARN] slow response"
    ]
    assert messages(filt(store, filter_pattern="?WARN ?INFO")["events"]) == [
        "[WARN] slow response",
        "[INFO] all good",
    ]
    assert messages(filt(store, filter_pattern="ERROR -DEBUG")["events"]) == [
        "[ERROR] timeout talking to db"
    ]
    assert messages(filt(store, filter_pattern="error")["events"]) == []  # case-sensitive
    assert len(filt(store, filter_pattern="")["events"]) == 5


def test_filter_with_a_pattern_pages_over_sparse_matches(store: LogStore) -> None:
    put(store, *(("hit" if i % 700 == 0 else "miss") + str(i) for i in range(3000)))
    got: list[str] = []
    token = None
    while True:
        page = filt(store, filter_pattern="hit", limit=2, token=token)
        got += messages(page["events"])
        token = page.get("nextToken")
        if token is None:
            break
    assert got == ["hit0", "hit700", "hit1400", "hit2100", "hit2800"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ERROR", FilterPattern(required=("ERROR",))),
        ('  "a b"  c ', FilterPattern(required=("a b", "c"))),
        ('?x ?"y z" -w', FilterPattern(optional=("x", "y z"), excluded=("w",))),
        ('"say \\"hi\\""', FilterPattern(required=('say "hi"',))),
        ("RequestId: abc", FilterPattern(required=("RequestId:", "abc"))),
        (None, FilterPattern()),
    ],
)
def test_filter_pattern_parse(text: str | None, expected: FilterPattern) -> None:
    assert FilterPattern.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{ $.level = }",
        '{ $.a < "x" }',
        "[ip, user, status=404]",
        "%ERR.*%",
        '"unterminated',
        "a=b",
        '"a"b',
    ],
)
def test_unsupported_filter_patterns_are_refused(store: LogStore, text: str) -> None:
    put(store, "x")
    with pytest.raises(InvalidParameterException, match="filter pattern"):
        filt(store, filter_pattern=text)


# -- PutLogEvents ------------------------------------------------------------------------------


def test_put_log_events_needs_an_existing_stream_and_order(store: LogStore) -> None:
    with pytest.raises(ResourceNotFoundException, match="log group"):
        store.put_log_events(ACCOUNT, REGION, GROUP, STREAM, [{"timestamp": T0, "message": "x"}])
    store.create_log_group(ACCOUNT, REGION, GROUP)
    with pytest.raises(ResourceNotFoundException, match="log stream"):
        store.put_log_events(ACCOUNT, REGION, GROUP, STREAM, [{"timestamp": T0, "message": "x"}])
    store.create_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    with pytest.raises(InvalidParameterException, match="chronological"):
        store.put_log_events(
            ACCOUNT,
            REGION,
            GROUP,
            STREAM,
            [{"timestamp": T0 + 1, "message": "b"}, {"timestamp": T0, "message": "a"}],
        )
    out = store.put_log_events(ACCOUNT, REGION, GROUP, STREAM, [{"timestamp": T0, "message": "ok"}])
    assert out == {}
    assert stored_rows(store) == 1  # written before returning, not merely buffered


def test_put_log_events_rejects_too_old_and_too_new(store: LogStore) -> None:
    store.create_log_group(ACCOUNT, REGION, GROUP)
    store.create_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    day = 86_400_000
    # A batch spans at most 24 hours: send the too-old and too-new events apart.
    old = store.put_log_events(
        ACCOUNT,
        REGION,
        GROUP,
        STREAM,
        [
            {"timestamp": T0 - 15 * day, "message": "old"},
            {"timestamp": T0 - 15 * day + 1, "message": "old2"},
        ],
    )
    assert old == {"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 1}}
    new = store.put_log_events(
        ACCOUNT,
        REGION,
        GROUP,
        STREAM,
        [
            {"timestamp": T0, "message": "now"},
            {"timestamp": T0 + 3 * 3600 * 1000, "message": "future"},
        ],
    )
    assert new == {"rejectedLogEventsInfo": {"tooNewLogEventStartIndex": 1}}
    assert messages(get(store)["events"]) == ["now"]


# -- persistence and the flusher ----------------------------------------------------------------


def test_events_and_ids_survive_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "logs.db"
    store = LogStore(SqliteLogStorage(db), clock)
    store.open()
    put(store, "one", "two")
    ids = [e["eventId"] for e in filt(store)["events"]]
    store.close()  # flushes
    store = LogStore(SqliteLogStorage(db), clock)
    store.open()
    store.delete_log_stream(ACCOUNT, REGION, GROUP, STREAM)
    put(store, "three")
    [event] = filt(store)["events"]
    # Ids are never reused, so `aws logs tail --follow` never mistakes a new event for an old one.
    assert int(event["eventId"]) > max(map(int, ids))
    store.close()


def test_flusher_writes_what_is_buffered_when_cancelled(store: LogStore) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(store.run_flusher(interval=3600))
        await asyncio.sleep(0)  # let it start waiting
        put(store, "last words")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert stored_rows(store) == 1


def test_close_flushes_and_is_idempotent(tmp_path: Path, clock: FakeClock) -> None:
    store = LogStore(SqliteLogStorage(tmp_path / "logs.db"), clock)
    store.open()
    put(store, "kept")
    store.close()
    store.close()
    reopened = LogStore(SqliteLogStorage(tmp_path / "logs.db"), clock)
    reopened.open()
    assert messages(get(reopened)["events"]) == ["kept"]
    reopened.close()
