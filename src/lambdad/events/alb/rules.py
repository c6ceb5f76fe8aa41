"""Which actions a load balancer's listener takes for a request (pure).

Rules are tried by priority, lowest first; a rule applies when every one of its
conditions holds, and the listener's default actions apply when none does
(Elastic Load Balancing User Guide, "Listener rules"). Conditions:

- ``path-pattern``: the path (not its query string) against ``*``/``?`` patterns,
  case-sensitive; ``host-header``: the host name, case-insensitive;
  ``http-request-method``: the method, exactly; ``http-header``: the named header's
  values, case-insensitive patterns; ``query-string``: a ``key=value`` pair (key
  optional), case-insensitive patterns; ``source-ip``: the client's address in a CIDR.
Within a condition any one value is enough.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

from lambdad.events.http.request import HttpRequest, query_pairs

Params = Mapping[str, Any]


def actions_for(
    request: HttpRequest, host: str, rules: Sequence[Params], default: list[Any]
) -> list[Any]:
    """The actions of the first rule (by priority) matching, else ``default``."""
    for rule in sorted(rules, key=lambda r: int(r["Priority"])):
        if all(_holds(c, request, host) for c in rule["Conditions"]):
            return list(rule["Actions"])
    return default


def _like(value: str, patterns: Sequence[str], *, fold: bool) -> bool:
    wanted = value.lower() if fold else value
    for pattern in patterns:
        pattern = pattern.lower() if fold else pattern
        if fnmatch.fnmatchcase(wanted, pattern.replace("[", "[[]")):
            return True
    return False


def _holds(condition: Params, request: HttpRequest, host: str) -> bool:
    field = condition.get("Field")
    config_key = {
        "path-pattern": "PathPatternConfig",
        "host-header": "HostHeaderConfig",
        "http-request-method": "HttpRequestMethodConfig",
        "source-ip": "SourceIpConfig",
    }.get(str(field))
    values = list(condition.get("Values") or ())
    if config_key and condition.get(config_key):
        values = list(condition[config_key].get("Values") or ())
    if field == "path-pattern":
        return _like(request.raw_path, values, fold=False)
    if field == "host-header":
        return _like(host.split(":", 1)[0], values, fold=True)
    if field == "http-request-method":
        return request.method in values
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        found = request.header_values(str(config.get("HttpHeaderName", "")))
        return any(_like(v, config.get("Values") or (), fold=True) for v in found)
    if field == "query-string":
        pairs = [
            (unquote_plus(k), unquote_plus(v))
            for k, v in query_pairs(request.raw_query, decode=False)
        ]
        wanted = (condition.get("QueryStringConfig") or {}).get("Values") or ()
        return any(
            (w.get("Key") is None or _like(k, [w["Key"]], fold=True))
            and _like(v, [w.get("Value", "")], fold=True)
            for w in wanted
            for k, v in pairs
        )
    if field == "source-ip":
        return _in_cidrs(request.source_ip, values)
    return False


def _in_cidrs(address: str, cidrs: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError:
        return False


def choose_group(actions: Sequence[Params], draw: float) -> str | None:
    """The target group a ``forward`` action sends this request to: its
    ``TargetGroupArn``, or one of ``ForwardConfig.TargetGroups`` by their ``Weight``
    (``draw``: a number in [0, 1), injected); None when no action forwards."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            return str(action["TargetGroupArn"])
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        weights = [max(0, int(g.get("Weight", 1))) for g in groups]
        total = sum(weights)
        if not groups:
            continue
        if total == 0:
            return str(groups[0]["TargetGroupArn"])
        point = draw * total
        for group, weight in zip(groups, weights, strict=True):
            if point < weight:
                return str(group["TargetGroupArn"])
            point -= weight
        return str(groups[-1]["TargetGroupArn"])
    return None
