"""Paging of API Gateway's list operations (``events.apigw.paging``): pages walk the
whole listing, the last page has no token, and anything but a token lambdad issued
for that listing is refused."""

from __future__ import annotations

import base64
import json

import pytest

from lambdad.errors import BadRequestException
from lambdad.events.apigw import paging

ITEMS = [{"Id": f"i{n}"} for n in range(5)]


def _walk(items: list[dict[str, str]], size: int | None) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = paging.take(items, listing="l", key="Id", size=size, token=token, token_name="T")
        pages.append([item["Id"] for item in page.items])
        if page.token is None:
            return pages
        token = page.token


def test_pages_walk_the_whole_listing_and_the_last_has_no_token() -> None:
    assert _walk(ITEMS, 2) == [["i0", "i1"], ["i2", "i3"], ["i4"]]
    assert _walk(ITEMS, 5) == [["i0", "i1", "i2", "i3", "i4"]]
    assert _walk(ITEMS, None) == [["i0", "i1", "i2", "i3", "i4"]]
    assert _walk([], 1) == [[]]


def test_a_page_resumes_after_its_last_item_or_its_offset_when_that_item_went() -> None:
    first = paging.take(ITEMS, listing="l", key="Id", size=2, token=None, token_name="T")
    assert first.token is not None
    fewer = [item for item in ITEMS if item["Id"] != "i0"]  # deleted before the last item
    again = paging.take(fewer, listing="l", key="Id", size=2, token=first.token, token_name="T")
    assert [item["Id"] for item in again.items] == ["i2", "i3"]
    gone = [item for item in ITEMS if item["Id"] != "i1"]  # the last item itself deleted
    after = paging.take(gone, listing="l", key="Id", size=9, token=first.token, token_name="T")
    assert [item["Id"] for item in after.items] == ["i3", "i4"]


def _forged(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "%%%%",
        "é",
        _forged(["l", "i1", 2, "0" * 16]),  # a check lambdad did not compute
        _forged({"after": "i1"}),
        _forged("[" * 1500),
        "A" * 5000,
    ],
)
def test_a_token_lambdad_did_not_issue_is_refused(token: str) -> None:
    with pytest.raises(BadRequestException) as refused:
        paging.take(ITEMS, listing="l", key="Id", size=1, token=token, token_name="NextToken")
    assert refused.value.message == "Invalid NextToken specified"


def test_a_token_of_another_listing_is_refused() -> None:
    token = paging.take(ITEMS, listing="a", key="Id", size=1, token=None, token_name="T").token
    with pytest.raises(BadRequestException):
        paging.take(ITEMS, listing="b", key="Id", size=1, token=token, token_name="T")


@pytest.mark.parametrize("value", ["0", "000", "-1", "abc", "1.5", "", " 2", "\u0661"])
def test_max_results_must_be_a_whole_number_from_one(value: str) -> None:
    with pytest.raises(BadRequestException, match="Invalid MaxResults"):
        paging.max_results(value)


def test_max_results_and_limit_as_page_sizes() -> None:
    assert paging.max_results(None) is None
    assert paging.max_results("3") == 3
    assert paging.max_results("007") == 7
    assert paging.max_results("9" * 5000) is None  # past any listing: all of it
    assert paging.limit(None) == 25
    assert paging.limit(7) == 7
    assert paging.limit(100_000) == 500
    for bad in (0, -1):
        with pytest.raises(BadRequestException, match="Invalid limit"):
            paging.limit(bad)


def test_the_two_apis_outputs() -> None:
    first = paging.v2_page(ITEMS, {"MaxResults": "4"}, listing="l", key="Id")
    assert len(first["Items"]) == 4
    rest = paging.v2_page(ITEMS, {"NextToken": first["NextToken"]}, listing="l", key="Id")
    assert rest == {"Items": [{"Id": "i4"}]}
    assert paging.v2_page(ITEMS, {}, listing="l", key="Id") == {"Items": ITEMS}
    page = paging.v1_page(ITEMS, {"limit": 3}, listing="l", key="Id")
    assert [i["Id"] for i in page["items"]] == ["i0", "i1", "i2"]
    last = paging.v1_page(ITEMS, {"position": page["position"]}, listing="l", key="Id")
    assert last == {"items": [{"Id": "i3"}, {"Id": "i4"}]}
    with pytest.raises(BadRequestException, match="Invalid position specified"):
        paging.v1_page(ITEMS, {"position": "x"}, listing="l", key="Id")
