from __future__ import annotations

from lambdad.cli.cost import table


def test_table_lists_each_function_and_the_total() -> None:
    doc = {
        "month": "2026-12",
        "account": "111122223333",
        "region": "us-east-1",
        "total_usd": 0.25,
        "functions": [
            {
                "function": "orders",
                "requests": 2_000_000,
                "gb_seconds": 12.5,
                "free_tier": {"requests": 1_000_000, "gb_seconds": 12.5},
                "cost_usd": 0.2,
            }
        ],
    }
    lines = table(doc)
    assert lines[0] == "2026-12  account 111122223333  us-east-1"
    assert lines[1].split() == [
        "FUNCTION",
        "REQUESTS",
        "GB-SECONDS",
        "FREE",
        "REQ",
        "FREE",
        "GB-S",
        "COST",
        "USD",
    ]
    assert lines[2].split() == ["orders", "2000000", "12.500", "1000000", "12.500", "0.200000"]
    assert lines[-1] == "total: $0.250000 (after the free tier)"
    doc["functions"][0] |= {"provisioned_gb_seconds": 1200.0, "provisioned_duration_gb_seconds": 10}
    assert table(doc)[-2] == (
        "  orders: provisioned concurrency 1200.000 GB-s configured, 10.000 GB-s run on it"
    )


def test_version_table() -> None:
    from lambdad.cli.cost import version_table

    doc = {
        "versions": [
            {
                "function": "orders",
                "version": "$LATEST",
                "architecture": "arm64",
                "memory_mb": 512,
                "requests": 3,
                "gb_seconds": 0.0015,
                "cost_before_free_tier_usd": 0.0000006,
            }
        ]
    }
    assert version_table(doc)[1].split() == [
        "orders",
        "$LATEST",
        "arm64",
        "512",
        "MB",
        "3",
        "0.002",
        "0.000001",
    ]
