"""The request value and the helpers every payload format shares."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import locale
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lambdad.events.http.body import is_text, matches_media_types, media_type
from lambdad.events.http.request import (
    HttpRequest,
    aws_time,
    event_json,
    query_pairs,
    trace_header,
)

MakeRequest = Callable[..., HttpRequest]


def test_aws_time_is_the_guides_form() -> None:
    assert aws_time(datetime(2020, 3, 12, 19, 3, 58, tzinfo=UTC)) == "12/Mar/2020:19:03:58 +0000"
    assert aws_time(datetime(2021, 9, 7, 1, 2, 3, tzinfo=UTC)) == "07/Sep/2021:01:02:03 +0000"


def test_aws_time_is_utc_and_english_whatever_the_zone_and_locale() -> None:
    berlin = timezone(timedelta(hours=1))
    before = locale.setlocale(locale.LC_TIME)
    try:
        with contextlib.suppress(locale.Error):  # without it, the zone half still runs
            locale.setlocale(locale.LC_TIME, "de_DE.UTF-8")
        assert aws_time(datetime(2020, 5, 1, 0, 30, tzinfo=berlin)) == "30/Apr/2020:23:30:00 +0000"
    finally:
        locale.setlocale(locale.LC_TIME, before)


def test_request_time_must_be_aware(make_request: MakeRequest) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_request(time=datetime(2020, 1, 1))


def test_header_lookup_is_case_insensitive_and_keeps_order(make_request: MakeRequest) -> None:
    request = make_request(headers=[("X-A", "1"), ("x-a", "2"), ("User-Agent", "ua")])
    assert request.header_values("x-A") == ["1", "2"]
    assert request.first_header("X-a") == "1"
    assert request.user_agent == "ua"
    assert request.content_type is None
    assert make_request().user_agent == ""


def test_header_lookups_are_copies_and_follow_a_replaced_request(
    make_request: MakeRequest,
) -> None:
    request = make_request(headers=[("X-A", "1")])
    request.header_values("x-a").append("changed by a caller")
    assert request.header_values("x-a") == ["1"]
    moved = dataclasses.replace(request, headers=(("x-a", "2"), ("X-B", "3")))
    assert (moved.header_values("x-a"), moved.first_header("x-b")) == (["2"], "3")
    assert moved != request
    assert dataclasses.replace(request, raw_path="/other").header_values("X-A") == ["1"]


def test_time_epoch_is_milliseconds(make_request: MakeRequest) -> None:
    assert make_request().time_epoch_ms == 1583348638390


def test_query_pairs() -> None:
    assert query_pairs("", decode=True) == []
    assert query_pairs("a=1&&b&c=x=y", decode=False) == [("a", "1"), ("b", ""), ("c", "x=y")]
    assert query_pairs("a%20b=c+d", decode=True) == [("a b", "c d")]
    assert query_pairs("a%20b=c+d", decode=False) == [("a%20b", "c+d")]


def test_trace_header_is_stable_and_well_formed(make_request: MakeRequest) -> None:
    request = make_request(request_id="r-1")
    value = trace_header(request)
    assert value == trace_header(make_request(request_id="r-1"))
    assert trace_header(request) == value  # asked again: the same, made once
    assert request == make_request(request_id="r-1")  # the memo is not part of equality
    assert value != trace_header(make_request(request_id="r-2"))
    assert re.fullmatch(rf"Root=1-{1583348638:08x}-[0-9a-f]{{24}}", value)


def test_an_event_is_compact_json() -> None:
    event = {"a": [1, "\u00e9", None], "b": {"c": True, "d": 1.5}}
    assert event_json(event) == json.dumps(event, separators=(",", ":")).encode()
    assert event_json(event) == b'{"a":[1,"\\u00e9",null],"b":{"c":true,"d":1.5}}'


def test_media_types() -> None:
    assert media_type(" Text/HTML ; charset=utf-8") == "text/html"
    assert media_type(None) == ""
    assert is_text("text/csv")
    assert is_text("application/javascript")
    assert not is_text("application/octet-stream")
    assert not is_text(None)
    assert matches_media_types("image/png", ["image/*"])
    assert matches_media_types("application/pdf", ["*/*"])
    assert matches_media_types("application/pdf; x=1", ["Application/PDF"])
    assert not matches_media_types("image/png", ["image/gif", "text/*"])
    assert not matches_media_types(None, ["*/*"])
