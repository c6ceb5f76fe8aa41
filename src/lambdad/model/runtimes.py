"""The Lambda runtime identifiers and their life cycle.

Every identifier in botocore's ``Runtime`` enum is known here. A runtime past the
date AWS blocks creating functions on it is refused on CreateFunction and
UpdateFunctionConfiguration, with AWS's message; functions already on it keep
working, as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    identifier: str
    family: str  # "python", "nodejs", "provided", "java", "dotnet", "ruby", "go"
    version: str  # "3.12", "22", "al2023", ...
    block_create: date | None = None  # AWS refuses new functions from this day

    def blocked(self, today: date) -> bool:
        return self.block_create is not None and today >= self.block_create


_LONG_AGO = date(2020, 1, 1)

_TABLE: tuple[RuntimeInfo, ...] = (
    RuntimeInfo("python2.7", "python", "2.7", _LONG_AGO),
    RuntimeInfo("python3.6", "python", "3.6", _LONG_AGO),
    RuntimeInfo("python3.7", "python", "3.7", date(2024, 1, 9)),
    RuntimeInfo("python3.8", "python", "3.8", date(2026, 2, 28)),
    RuntimeInfo("python3.9", "python", "3.9", date(2026, 8, 31)),
    RuntimeInfo("python3.10", "python", "3.10"),
    RuntimeInfo("python3.11", "python", "3.11"),
    RuntimeInfo("python3.12", "python", "3.12"),
    RuntimeInfo("python3.13", "python", "3.13"),
    RuntimeInfo("python3.14", "python", "3.14"),
    RuntimeInfo("nodejs", "nodejs", "0.10", _LONG_AGO),
    RuntimeInfo("nodejs4.3", "nodejs", "4", _LONG_AGO),
    RuntimeInfo("nodejs4.3-edge", "nodejs", "4", _LONG_AGO),
    RuntimeInfo("nodejs6.10", "nodejs", "6", _LONG_AGO),
    RuntimeInfo("nodejs8.10", "nodejs", "8", _LONG_AGO),
    RuntimeInfo("nodejs10.x", "nodejs", "10", _LONG_AGO),
    RuntimeInfo("nodejs12.x", "nodejs", "12", date(2023, 3, 31)),
    RuntimeInfo("nodejs14.x", "nodejs", "14", date(2024, 1, 9)),
    RuntimeInfo("nodejs16.x", "nodejs", "16", date(2026, 2, 28)),
    RuntimeInfo("nodejs18.x", "nodejs", "18"),
    RuntimeInfo("nodejs20.x", "nodejs", "20"),
    RuntimeInfo("nodejs22.x", "nodejs", "22"),
    RuntimeInfo("nodejs24.x", "nodejs", "24"),
    RuntimeInfo("provided", "provided", "al1", date(2026, 2, 28)),
    RuntimeInfo("provided.al2", "provided", "al2"),
    RuntimeInfo("provided.al2023", "provided", "al2023"),
    RuntimeInfo("go1.x", "go", "1", date(2026, 2, 28)),
    RuntimeInfo("java8", "java", "8", date(2026, 2, 28)),
    RuntimeInfo("java8.al2", "java", "8"),
    RuntimeInfo("java11", "java", "11"),
    RuntimeInfo("java17", "java", "17"),
    RuntimeInfo("java21", "java", "21"),
    RuntimeInfo("java25", "java", "25"),
    RuntimeInfo("dotnetcore1.0", "dotnet", "1.0", _LONG_AGO),
    RuntimeInfo("dotnetcore2.0", "dotnet", "2.0", _LONG_AGO),
    RuntimeInfo("dotnetcore2.1", "dotnet", "2.1", _LONG_AGO),
    RuntimeInfo("dotnetcore3.1", "dotnet", "3.1", date(2023, 4, 3)),
    RuntimeInfo("dotnet6", "dotnet", "6", date(2026, 2, 28)),
    RuntimeInfo("dotnet8", "dotnet", "8"),
    RuntimeInfo("dotnet10", "dotnet", "10"),
    RuntimeInfo("ruby2.5", "ruby", "2.5", _LONG_AGO),
    RuntimeInfo("ruby2.7", "ruby", "2.7", date(2024, 1, 9)),
    RuntimeInfo("ruby3.2", "ruby", "3.2", date(2026, 8, 31)),
    RuntimeInfo("ruby3.3", "ruby", "3.3"),
    RuntimeInfo("ruby3.4", "ruby", "3.4"),
    RuntimeInfo("ruby4.0", "ruby", "4.0"),
)

RUNTIMES: dict[str, RuntimeInfo] = {r.identifier: r for r in _TABLE}


def runtime_info(identifier: str) -> RuntimeInfo | None:
    return RUNTIMES.get(identifier)


def deprecated_message(identifier: str) -> str:
    return (
        f"The runtime parameter of {identifier} is no longer supported for creating or "
        "updating AWS Lambda functions. We recommend you use a supported runtime while "
        "creating or updating functions."
    )


# The value set AWS names when a runtime is not one it knows, in AWS's order: recorded
# on AWS 12 January 2026 (LocalStack's snapshot of CreateFunction with an unknown
# runtime, tests/aws/services/lambda_/test_lambda_api.snapshot.json). It is AWS's list
# of runtimes open to new functions, not botocore's enum, which keeps every old name.
AWS_RUNTIME_ENUM: tuple[str, ...] = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13",
    "nodejs24.x", "nodejs22.x", "java25", "python3.10", "python3.11", "java21",
    "ruby3.3", "ruby3.4", "ruby3.2", "python3.8", "python3.9", "java17", "nodejs16.x",
    "dotnet10", "dotnet8", "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
)  # fmt: skip


def unknown_runtime_message(value: str) -> str:
    """AWS's InvalidParameterValueException message for a runtime it does not know."""
    return (
        f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy "
        f"enum value set: [{', '.join(AWS_RUNTIME_ENUM)}] or be a valid ARN"
    )
