"""A function's last invocation as the functions page shows it: the time of its newest
log event. In its own group (``/aws/lambda/NAME``) that is the group's newest stream.
In a custom group other functions may share, only the function's own streams count
(named ``YYYY/MM/DD/NAME[VERSION]ID``, the day its environment started): the group's
most recently written streams are looked at first (exact when one of them is the
function's), then the function's streams by name, day by day back from today, as
CloudWatch Logs' ``logStreamNamePrefix`` finds them (so a quiet function in a busy
shared group is not missed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lambdad.console.view import View
from lambdad.errors import AwsError

# The group's most recently written streams looked at before searching by name.
NEWEST = 50
# Days of stream names searched back from today (the Logs tab reads 14 days too).
LOOKBACK_DAYS = 14


def owns(name: str, stream: str) -> bool:
    """Whether ``stream`` of a custom group is function ``name``'s."""
    parts = stream.split("/", 3)
    return len(parts) == 4 and parts[3].startswith(f"{name}[")


def day_prefixes(name: str, now: float, days: int = LOOKBACK_DAYS) -> list[str]:
    """The stream name prefixes of ``name``'s environments started on each of the last
    ``days`` days (UTC, as lambdad names them), today first."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [f"{today - timedelta(days=n):%Y/%m/%d}/{name}[" for n in range(days)]


async def last_invoked(view: View, fn: dict[str, Any]) -> float | None:
    """The time (epoch ms) of the function's newest log event, if it has one."""
    name = fn["FunctionName"]
    own = f"/aws/lambda/{name}"
    group = (fn.get("LoggingConfig") or {}).get("LogGroup") or own
    try:
        out = await _streams(view, group, orderBy="LastEventTime", descending=True,
                             limit=1 if group == own else NEWEST)  # fmt: skip
    except AwsError:  # no log group yet: never invoked
        return None
    streams = out.get("logStreams") or []
    if group == own:
        return _last_event(streams[0]) if streams else None
    mine = [s for s in streams if owns(name, str(s.get("logStreamName")))]
    if mine:
        return _last_event(mine[0])
    if not out.get("nextToken"):
        return None  # every stream of the group was looked at
    for prefix in day_prefixes(name, view.now()):
        try:
            found = await _streams(view, group, logStreamNamePrefix=prefix, limit=NEWEST)
        except AwsError:  # the group deleted meanwhile
            return None
        times = [t for s in found.get("logStreams") or [] if (t := _last_event(s))]
        if times:
            return max(times)
    return None


async def _streams(view: View, group: str, **params: Any) -> dict[str, Any]:
    return await view.aws.logs(view.who, "DescribeLogStreams", logGroupName=group, **params)


def _last_event(stream: dict[str, Any]) -> float | None:
    found = stream.get("lastEventTimestamp")
    return float(found) if found else None
