"""Recursion lineage in trace headers."""

from __future__ import annotations

from lambdad.model import lineage

FN = "arn:aws:lambda:us-east-1:123456789012:function:loop"


def test_turns_count_up_per_function_and_keep_the_root() -> None:
    first = lineage.next_header(None, FN)
    assert lineage.turns(first, FN) == 1
    second = lineage.next_header(first, FN + ":live")  # a qualifier is the same function
    assert lineage.turns(second, FN) == 2
    assert second.split(";")[0] == first.split(";")[0]
    other = "arn:aws:lambda:us-east-1:123456789012:function:other"
    both = lineage.next_header(second, other)
    assert (lineage.turns(both, FN), lineage.turns(both, other)) == (2, 1)


def test_headers_without_lineage_or_garbled() -> None:
    assert lineage.turns(None, FN) == 0
    assert lineage.turns("Root=1-a-b;Sampled=1", FN) == 0
    assert lineage.lineage("Lineage=zz|2:abcd1234:7|x:y") == {"abcd1234": 7}
