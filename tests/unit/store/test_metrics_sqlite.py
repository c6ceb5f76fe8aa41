from __future__ import annotations

import sqlite3
from pathlib import Path

from lambdad.store.metrics_sqlite import SqliteMetricStorage

OLD_USAGE = """
CREATE TABLE usage (
    account TEXT NOT NULL, region TEXT NOT NULL, function TEXT NOT NULL,
    version TEXT NOT NULL, architecture TEXT NOT NULL, memory_mb INTEGER NOT NULL,
    storage_mb INTEGER NOT NULL, month TEXT NOT NULL,
    requests INTEGER NOT NULL, billed_ms INTEGER NOT NULL,
    PRIMARY KEY (account, region, month, function, version, architecture, memory_mb,
                 storage_mb)
) WITHOUT ROWID;
INSERT INTO usage VALUES ('1', 'r', 'fn', '$LATEST', 'x86_64', 128, 512, '2026-12', 4, 40);
"""


def test_a_usage_table_without_provisioned_columns_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_USAGE)
    conn.close()
    storage = SqliteMetricStorage(path)
    storage.open()
    try:
        key = ("1", "r", "fn", "$LATEST", "x86_64", 128, 512, "2026-12")
        storage.add_usage({key: [1, 10, 5, 1000]})
        assert storage.usage("1", "r", "2026-12") == [
            ("fn", "$LATEST", "x86_64", 128, 512, 5, 50, 5, 1000)
        ]
    finally:
        storage.close()
