"""``store.queue_shares.shares``: a claim's places, shared among functions as if each
had a queue of its own."""

from __future__ import annotations

from lambdad.store.queue_shares import Head, shares

A = ("123456789012", "us-east-1", "backlog")
B = ("123456789012", "us-east-1", "newcomer")
C = ("210987654321", "us-east-1", "other-account")


def test_a_function_alone_takes_every_place() -> None:
    got = shares({A: Head(100, 1.0)}, 4, remaining={}, default_remaining=4, running={})
    assert got == {A: 4}


def test_a_backlog_leaves_the_next_place_to_a_function_with_nothing_running() -> None:
    heads = {A: Head(5000, 1.0), B: Head(1, 900.0)}
    # A's events are far older, but A already runs three: the one free place is B's.
    assert shares(heads, 1, remaining={}, default_remaining=1, running={A: 3}) == {B: 1}
    # With nothing running, places alternate: the oldest head first.
    assert shares(heads, 3, remaining={}, default_remaining=3, running={}) == {A: 2, B: 1}


def test_places_go_to_the_least_busy_function_first() -> None:
    heads = {A: Head(50, 1.0), B: Head(50, 2.0), C: Head(50, 3.0)}
    got = shares(heads, 6, remaining={}, default_remaining=6, running={A: 4, B: 1})
    # C (0 running) and B (1) share them; A (4) gets one once the others run 4 too.
    assert got == {C: 3, B: 3}


def test_remaining_and_what_is_due_bound_each_function() -> None:
    heads = {A: Head(50, 1.0), B: Head(2, 2.0), C: Head(50, 3.0)}
    got = shares(heads, 10, remaining={A: 1, C: 0}, default_remaining=10, running={})
    assert got == {A: 1, B: 2}


def test_nothing_due_or_no_place_takes_nothing() -> None:
    assert shares({}, 4, remaining={}, default_remaining=4, running={}) == {}
    assert shares({A: Head(3, 1.0)}, 0, remaining={}, default_remaining=4, running={}) == {}
