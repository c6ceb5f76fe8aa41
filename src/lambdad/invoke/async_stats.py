"""Counters and queue state of asynchronous invocation, per function.

The counters live with the queue (``store.queue``: they change in the same
transactions as the events they count), so they survive restarts and can be read
by another process: ``lambdad async-stats`` reads the SQLite file directly, and the
metrics exporter will too. In steady state ``received = processed + dropped +
queued``, give or take events run again after a crash.
"""

from __future__ import annotations

from lambdad.store.queue import COUNTERS, FunctionStatistics
from lambdad.store.queue_sqlite_stats import read_statistics_file

__all__ = ["COUNTERS", "FunctionStatistics", "read_statistics_file"]
