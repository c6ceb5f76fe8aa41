"""Function names, ARNs and qualifiers, as the Lambda API accepts them.

A ``FunctionName`` parameter may be a bare name, a name with a qualifier
(``my-fn:prod``), a partial ARN (``123456789012:function:my-fn``) or a full ARN
(``arn:aws:lambda:us-east-1:123456789012:function:my-fn:1``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lambdad.errors import InvalidParameterValueException, ValidationException

LATEST = "$LATEST"

_FUNCTION_REF = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
VERSION_RE = re.compile(r"[0-9]+")
ALIAS_RE = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function named by a request, with the qualifier it carried, if any."""

    name: str
    qualifier: str | None = None
    account: str | None = None
    region: str | None = None


def parse_function_ref(
    value: str, *, field: str = "functionName", long_names: bool = False
) -> FunctionRef:
    """``value`` parsed as AWS's pattern reads it. A name over 64 characters is refused
    unless ``long_names`` (the caller answers for it: AWS's look-ups say "Function not
    found", CreateFunction refuses the parameter)."""
    m = _FUNCTION_REF.fullmatch(value)
    if m is None or (m.group("region") and not value.startswith("arn:")):
        raise ValidationException.for_violations(
            [
                f"Value '{value}' at '{field}' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
                "((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
                "([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ]
        )
    # AWS's pattern reads ``arn:…:ACCOUNT:function`` as a function named "function".
    bare_function = m.group("name") == "function" and m.group("qualifier") is None
    if value.startswith("arn:") and ":function:" not in value and not bare_function:
        raise ValidationException.for_violations(
            [
                f"Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy "
                "regular expression pattern: arn:aws:lambda:..."
            ]
        )
    name = m.group("name")
    if len(name) > MAX_NAME_LENGTH and not long_names:
        raise ValidationException.for_violations(
            [
                f"Value '{value}' at '{field}' failed to satisfy constraint: Member must have "
                "length less than or equal to 64"
            ]
        )
    return FunctionRef(
        name=name,
        qualifier=m.group("qualifier"),
        account=m.group("account"),
        region=m.group("region"),
    )


def merge_qualifier(ref: FunctionRef, qualifier: str | None) -> str | None:
    """The one qualifier a request means, from its name and its ``Qualifier`` parameter."""
    if qualifier is not None and ref.qualifier is not None and qualifier != ref.qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return qualifier if qualifier is not None else ref.qualifier


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return f"{base}:{version}" if version is not None else base


def is_valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


# ``parse_function_ref`` remembered, for the few names a server's warm paths see again
# and again (a FunctionRef is frozen; a refused name is not remembered, and raises again).
cached_function_ref = functools.lru_cache(maxsize=4096)(parse_function_ref)
