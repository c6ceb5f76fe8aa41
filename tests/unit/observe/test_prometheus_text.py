"""The exposition written in parts (line prefixes once, values per change) is
``generate_latest`` over the metric families, byte for byte."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lambdad.observe.metrics_fold import DURATION_BUCKETS_MS
from lambdad.observe.prometheus_text import (
    HEADERS,
    Counts,
    Labels,
    Lines,
    Prefixes,
    exposition,
    families,
)

N = len(DURATION_BUCKETS_MS) + 1


def in_parts(rows: list[tuple[Labels, Counts]]) -> str:
    prefixes = Prefixes.of_all([labels for labels, _ in rows])
    lines = Lines()
    blocks = [lines.blocks(p, c) for p, (_, c) in zip(prefixes, rows, strict=True)]
    return b"".join(h + b"".join(b[i] for b in blocks) for i, h in enumerate(HEADERS)).decode()


def counts(*buckets: int, total_ms: float = 0.0, errors: int = 0) -> Counts:
    padded = tuple(buckets) + (0,) * (N - len(buckets))
    return Counts(sum(padded), errors, 3, 1, total_ms, padded)


ROWS: list[tuple[Labels, Counts]] = [
    (("111122223333", "us-east-1", "idle"), Counts(0, 0, 0, 0, 0.0, (0,) * N)),
    (("111122223333", "us-east-1", "fn"), counts(1, 2, 0, 4, total_ms=123.456, errors=2)),
    (("111122223333", "eu-west-1", "busy"), counts(*[1_234_567] * N, total_ms=9.87e9)),
    # Label values lambdad never makes, but the text must stay right for them.
    (("0", "r", 'quote"back\\slash\nnew%line le="0",'), counts(5, total_ms=0.1)),
    (("0", "r", "ünï{c}ode"), counts(0, 0, 7, total_ms=1e-9)),
]


def test_the_parts_are_generate_latest_byte_for_byte() -> None:
    assert in_parts(ROWS) == exposition(families(ROWS))


def test_no_function_is_the_headers_alone() -> None:
    assert b"".join(HEADERS).decode() == exposition(families([]))
    assert in_parts([]) == exposition(families([]))


def test_the_text_parses_with_every_label_and_value() -> None:
    got = {
        (s.name, s.labels["function_name"], s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(in_parts(ROWS))
        for s in family.samples
    }
    name = 'quote"back\\slash\nnew%line le="0",'
    assert got[("lambdad_invocations_total", name, "")] == 5
    assert got[("lambdad_duration_seconds_bucket", name, "0.005")] == 5
    assert got[("lambdad_duration_seconds_bucket", "fn", "0.025")] == 3
    assert got[("lambdad_duration_seconds_bucket", "fn", "+Inf")] == 7
    assert got[("lambdad_duration_seconds_count", "busy", "")] == 1_234_567 * N
    assert got[("lambdad_errors_total", "fn", "")] == 2
    assert len(got) == len(ROWS) * (4 + N + 2)
