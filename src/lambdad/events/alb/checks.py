"""What ELB checks of names, ARNs and page markers before it looks anything up, in
its own words (pure).

Names: a load balancer's or target group's name is 1 to 32 letters, digits and
hyphens, neither starting nor ending with a hyphen (a balancer's not starting with
``internal-``). ARNs: an ARN that is not one of this account's and region's of the
kind asked for is "not a valid … ARN" (``ValidationError``), not "not found": ELB
answers so for another region's or account's ARN too. Pages: ``Describe*`` answer
``PageSize`` items (400 by default) and a ``NextMarker`` naming where the next page
starts.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from lambdad.events.alb.errors import ElbError, invalid
from lambdad.model.scope import Scope

T = TypeVar("T")
MAX_NAME: Final = 32
PAGE: Final = 400
_CHARACTERS: Final = re.compile(r"[A-Za-z0-9-]+")
# The pattern ELB's model states for target group names (it reports it as written).
_GROUP_PATTERN: Final = r"(?!.*--)(?!^-)(?!.*-$)^[A-Za-z0-9-]+$"
_RESOURCE: Final = {
    "load balancer": re.compile(r"loadbalancer/(?:app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]+"),
    "target group": re.compile(r"targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]+"),
    "listener": re.compile(r"listener/(?:app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]+/[0-9a-f]+"),
}


def balancer_name_problem(name: str) -> str | None:
    """Why ELB refuses ``name`` for a load balancer (None: it takes it)."""
    said = f"The load balancer name '{name}'"
    if len(name) > MAX_NAME:
        return f"{said} cannot be longer than '{MAX_NAME}' characters"
    if not _CHARACTERS.fullmatch(name):
        return f"{said} can only contain characters that are alphanumeric characters and hyphens(-)"
    if name.startswith("-") or name.endswith("-"):
        return f"{said} cannot begin or end with a hyphen"
    if name.lower().startswith("internal-"):
        return f"{said} cannot begin with 'internal-'"
    return None


def group_name_problem(name: str) -> str | None:
    """Why ELB refuses ``name`` for a target group (None: it takes it)."""
    said = f"Target group name '{name}'"
    if len(name) > MAX_NAME:
        return f"{said} cannot be longer than '{MAX_NAME}' characters"
    if not _CHARACTERS.fullmatch(name):
        return f"{said} can only contain characters that are alphanumeric characters or hyphens(-)"
    if name.startswith("-") or name.endswith("-") or "--" in name:
        return (
            f"1 validation error detected: Value '{name}' at "
            "'targetGroup.targetGroupArn.targetGroupName' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {_GROUP_PATTERN}"
        )
    return None


def check_arn(scope: Scope, kind: str, arn: str) -> None:
    """Refuse ``arn`` unless it is a ``kind`` ARN ("load balancer"…) of ``scope``."""
    prefix = f"arn:aws:elasticloadbalancing:{scope.region}:{scope.account}:"
    if not (arn.startswith(prefix) and _RESOURCE[kind].fullmatch(arn[len(prefix) :])):
        raise invalid(f"'{arn}' is not a valid {kind} ARN")


def names_not_found(kind: str, missing: Sequence[str]) -> ElbError:
    """``LoadBalancerNotFound: Load balancers '[a, b]' not found`` for ``Names``."""
    return ElbError(kind, f"Load balancers '[{', '.join(missing)}]' not found")


def page(items: list[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """The page ``Marker``/``PageSize`` ask for, and the marker of the next (or None)."""
    start = _offset(params.get("Marker"))
    size = int(params.get("PageSize") or PAGE)
    end = start + size
    return items[start:end], (_marker(end) if end < len(items) else None)


def _marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"elb:{offset}".encode()).decode()


def _offset(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        if text.startswith("elb:") and text[4:].isdigit():
            return int(text[4:])
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise invalid(f"The marker '{marker}' is not valid")
