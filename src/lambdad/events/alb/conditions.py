"""What ELB checks of a rule's conditions when the rule is made, in its words (pure).

A condition names its ``Field`` and its values: ``host-header`` and ``path-pattern``
take either the older ``Values`` (one value) or their ``…Config`` (several), not
both; the other fields take their ``…Config`` only (botocore: "Specify only when
Field is host-header or path-pattern"). Values are at most 128 characters, a header
name 40. How a request is matched against them is ``rules``'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

FIELDS: Final = (
    "path-pattern",
    "host-header",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
)
# The configuration member each field takes.
_CONFIG: Final = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
_WITH_VALUES: Final = frozenset({"path-pattern", "host-header"})
_LONGEST: Final = 128
_METHOD: Final = re.compile(r"[A-Z_-]+")


def conditions_problem(conditions: Sequence[Mapping[str, Any]]) -> str | None:
    """Why ELB refuses these conditions of a rule (None: it takes them)."""
    for condition in conditions:
        problem = condition_problem(condition)
        if problem is not None:
            return problem
    return None


def condition_problem(condition: Mapping[str, Any]) -> str | None:
    field = condition.get("Field")
    if field not in _CONFIG:
        return f"Condition field '{field}' must be one of '[{','.join(FIELDS)}]'"
    config_key = _CONFIG[field]
    config = condition.get(config_key)
    if "Values" in condition and field not in _WITH_VALUES:
        return f"The 'Values' field is not compatible with '{field}'"
    if field in _WITH_VALUES:
        return _pattern_problem(field, condition.get("Values"), config, config_key)
    if not isinstance(config, Mapping):
        return f"A '{config_key}' must be specified with '{field}'"
    values = list(config.get("Values") or ())
    if field == "http-header":
        if len(str(config.get("HttpHeaderName") or "")) > 40:
            return "The 'HttpHeaderName' value is too long; the limit is '40'"
        return _too_long(field, values)
    if field == "http-request-method":
        for value in values:
            if len(value) > 40:
                return "The 'http-request-method' value is too long; the limit is '40'"
            if not _METHOD.fullmatch(value):
                return (
                    "The 'http-request-method' value is invalid; the allowed characters "
                    "are A-Z, hyphen and underscore"
                )
        return None
    if field == "source-ip":
        return None if values else "A 'source-ip' value must be specified"
    for pair in values:  # query-string
        if not isinstance(pair, Mapping) or "Value" not in pair:
            return "A 'Value' must be specified in 'QueryStringKeyValuePair'"
        for member in ("Key", "Value"):
            if len(str(pair.get(member) or "")) > _LONGEST:
                return f"The '{member}' value is too long; the limit is '{_LONGEST}'"
    return None


def _pattern_problem(field: str, values: Any, config: Any, config_key: str) -> str | None:
    if values and config:
        return (
            f"You cannot provide both Values and '{config_key}' for a condition of type '{field}'"
        )
    if not config and values and len(values) > 1:
        return f"The '{field}' field contains too many values; the limit is '1'"
    given = list((config or {}).get("Values") or ()) if config else list(values or ())
    if not given:
        return "A condition value must be specified"
    return _too_long(field, given)


def _too_long(field: str, values: Sequence[str]) -> str | None:
    if any(len(v) > _LONGEST for v in values):
        return f"The '{field}' value is too long; the limit is '{_LONGEST}'"
    return None
