from __future__ import annotations

import pytest

from lambdad.observe.pricing import Prices, Usage, bill

X86, ARM = 0.0000166667, 0.0000133334


def usage(fn: str, requests: int, billed_ms: int, **kw: object) -> Usage:
    args: dict[str, object] = {
        "version": "$LATEST",
        "architecture": "x86_64",
        "memory_mb": 1024,
        "storage_mb": 512,
    }
    args.update(kw)
    return Usage(fn, requests=requests, billed_ms=billed_ms, **args)  # type: ignore[arg-type]


NO_FREE = Prices(free_requests=0, free_gb_seconds=0)


def test_gb_seconds_requests_and_architecture() -> None:
    (a,) = bill([usage("a", 2_000_000, 2_000_000 * 100, memory_mb=512)], NO_FREE)
    gbs = 2_000_000 * 0.1 * 0.5
    assert a.gb_seconds == pytest.approx(gbs)
    assert a.cost_usd == pytest.approx(2 * 0.20 + gbs * X86)
    (b,) = bill([usage("b", 1, 1000, architecture="arm64", memory_mb=2048)], NO_FREE)
    assert b.cost_usd == pytest.approx(0.2e-6 + 2 * ARM)


def test_ephemeral_storage_over_512_mb_is_billed() -> None:
    (a,) = bill([usage("a", 1, 1000, storage_mb=10240 // 2)], NO_FREE)
    assert a.storage_gb_seconds == pytest.approx((5120 - 512) / 1024)
    assert a.cost_usd == pytest.approx(0.2e-6 + 1 * X86 + (4608 / 1024) * 0.0000000309)


def test_free_tier_is_shared_out_in_proportion() -> None:
    # 3M requests, 600,000 GB-s: a third of the requests and two thirds of GB-s are paid.
    rows = [usage("a", 1_000_000, 200_000_000), usage("b", 2_000_000, 400_000_000)]
    a, b = bill(rows, Prices())
    assert (a.free_requests, b.free_requests) == (pytest.approx(1e6 / 3), pytest.approx(2e6 / 3))
    assert a.free_gb_seconds + b.free_gb_seconds == pytest.approx(400_000)
    total = a.cost_usd + b.cost_usd
    assert total == pytest.approx(2 * 0.20 + 200_000 * X86)
    assert a.cost_before_free_tier_usd == pytest.approx(0.20 + 200_000 * X86)


def test_inside_the_free_tier_nothing_is_owed() -> None:
    (a,) = bill([usage("a", 9, 90)], Prices())
    assert a.cost_usd == 0.0
    assert a.free_requests == 9
    assert a.as_dict()["free_tier"] == {"requests": 9, "gb_seconds": a.gb_seconds}


def test_versions_add_up_per_function_sorted() -> None:
    rows = [usage("z", 1, 1), usage("a", 1, 1, version="1"), usage("a", 2, 2, architecture="arm64")]
    out = bill(rows, NO_FREE)
    assert [(c.function, c.requests, sorted(c.architectures)) for c in out] == [
        ("a", 3, ["arm64", "x86_64"]),
        ("z", 1, ["x86_64"]),
    ]


def test_provisioned_concurrency_is_priced_apart_and_never_free() -> None:
    # 10 minutes of 2 x 1024 MB provisioned (1,200 GB-s allocated) and 1,000 s of
    # duration on it (1,000 GB-s), on arm64.
    row = usage(
        "a",
        5,
        0,
        architecture="arm64",
        pc_billed_ms=1_000_000,
        pc_allocated_mb_ms=2 * 1024 * 600_000,
    )
    (a,) = bill([row], Prices())
    assert a.provisioned_gb_seconds == pytest.approx(1200)
    assert a.provisioned_duration_gb_seconds == pytest.approx(1000)
    assert a.cost_usd == pytest.approx(1200 * 0.0000033334 + 1000 * 0.0000077778)
    assert a.free_gb_seconds == 0


def test_a_bill_inside_the_free_tier_is_never_negative() -> None:
    # Shares of the free tier summed in floating point left -1e-22 USD, printed "-0.000000".
    rows = [usage("a", 14, 17, memory_mb=128), usage("b", 1, 5, memory_mb=128)]
    rows.append(usage("c", 2, 2, memory_mb=128))
    costs = bill(rows, Prices())
    assert all(c.cost_usd >= 0.0 for c in costs)
    assert f"{sum(c.cost_usd for c in costs):.6f}" == "0.000000"
    # Nor a positive residue (lambdad cost --json printed cost_usd: 1.4558e-22).
    assert [c.cost_usd for c in costs] == [0.0, 0.0, 0.0]
