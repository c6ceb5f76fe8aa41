"""Logs Insights queries: ``StartQuery``, ``GetQueryResults``, ``StopQuery`` and
``DescribeQueries`` over the log store.

A query runs when it is started (off the event loop, in the caller's thread) and is
kept with its results for ``GetQueryResults``: the most recent ``MAX_KEPT`` queries
of the server, each visible to its own account and region only. A scan reads at most
``SCAN_BUDGET`` events over all its groups; CloudWatch's limits apply to the rest (50
log groups, 10,000 result rows, 1,000 by default).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from lambdad.clock import Clock
from lambdad.errors import ResourceNotFoundException
from lambdad.observe.insights_eval import Record, record_of
from lambdad.observe.insights_parse import parse_query
from lambdad.observe.insights_run import Outcome, pointer, run
from lambdad.observe.log_shapes import InvalidParameterException
from lambdad.observe.logs import LogStore

MAX_KEPT = 1000
MAX_GROUPS = 50
SCAN_BUDGET = 1_000_000
DEFAULT_LIMIT = 1000


@dataclass(slots=True)
class _Query:
    account: str
    region: str
    query_id: str
    query_string: str
    groups: list[str]
    created_ms: int
    status: str = "Running"
    outcome: Outcome | None = None
    stop: threading.Event = field(default_factory=threading.Event)


class LogInsights:
    def __init__(self, logs: LogStore, clock: Clock) -> None:
        self.logs = logs
        self.clock = clock
        self._queries: OrderedDict[str, _Query] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self,  # groups: names (the API resolves ARNs, checking their account)
        account: str,
        region: str,
        groups: list[str],
        start_s: int,
        end_s: int,
        query_string: str,
        limit: int | None,
    ) -> str:
        if not groups:
            raise InvalidParameterException("Log group name or identifiers must be specified.")
        if len(groups) > MAX_GROUPS:
            raise InvalidParameterException(f"A query may name at most {MAX_GROUPS} log groups.")
        if end_s < start_s:
            raise InvalidParameterException("End time should not be before the start time.")
        commands = parse_query(query_string)
        names = [
            g.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in g else g
            for g in groups
        ]
        for name in names:
            # ResourceNotFoundException before anything runs, as CloudWatch answers.
            next(iter(self.logs.events_between(account, region, name, 0, -1, 1)), None)
        query = _Query(account, region, str(uuid.uuid4()), query_string, names, self.clock.now_ms())
        self._keep(query)
        records = self._records(query, start_s * 1000, end_s * 1000 + 999)
        outcome = run(commands, records, limit or DEFAULT_LIMIT)
        query.outcome = outcome
        query.status = "Cancelled" if query.stop.is_set() else "Complete"
        return query.query_id

    def _records(self, query: _Query, start_ms: int, end_ms: int) -> Any:
        budget = SCAN_BUDGET
        for name in query.groups:
            log_name = f"{query.account}:{name}"
            for event in self.logs.events_between(
                query.account, query.region, name, start_ms, end_ms, budget
            ):
                if query.stop.is_set():
                    return
                budget -= 1
                record: Record = record_of(
                    event.timestamp, event.message, event.stream, log_name, event.ingestion
                )
                record["@ptr"] = pointer(event.id)
                yield record

    def _keep(self, query: _Query) -> None:
        with self._lock:
            self._queries[query.query_id] = query
            while len(self._queries) > MAX_KEPT:
                self._queries.popitem(last=False)

    def _find(self, account: str, region: str, query_id: str) -> _Query:
        with self._lock:
            query = self._queries.get(query_id)
        if query is None or (query.account, query.region) != (account, region):
            raise ResourceNotFoundException("Query does not exist.")
        return query

    def results(self, account: str, region: str, query_id: str) -> dict[str, Any]:
        query = self._find(account, region, query_id)
        outcome = query.outcome
        statistics = {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
        rows: list[Any] = []
        if outcome is not None:
            rows = outcome.rows
            statistics = {
                "recordsMatched": float(outcome.matched),
                "recordsScanned": float(outcome.scanned),
                "bytesScanned": float(outcome.scanned_bytes),
            }
        return {"results": rows, "statistics": statistics, "status": query.status}

    def stop(self, account: str, region: str, query_id: str) -> dict[str, Any]:
        query = self._find(account, region, query_id)
        if query.status != "Running":
            return {"success": False}
        query.stop.set()
        return {"success": True}

    def describe(
        self, account: str, region: str, group: str | None, status: str | None
    ) -> dict[str, Any]:
        with self._lock:
            mine = [q for q in self._queries.values() if (q.account, q.region) == (account, region)]
        out = [
            {
                "queryId": q.query_id,
                "queryString": q.query_string,
                "status": q.status,
                "createTime": q.created_ms,
                "logGroupName": q.groups[0],
            }
            for q in reversed(mine)
            if (group is None or group in q.groups) and (status is None or q.status == status)
        ]
        return {"queries": out}
