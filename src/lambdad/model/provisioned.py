"""The state of a provisioned concurrency target, as GetProvisionedConcurrencyConfig
reports it.

The environments layer (``environments/provisioned.py``) knows it; the control plane
(``control/provisioned.py``) shows it. This value is what crosses between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lambdad.model.scope import Scope

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"


@dataclass(frozen=True, slots=True)
class ProvisionedState:
    allocated: int = 0
    status: str = IN_PROGRESS  # IN_PROGRESS | READY | FAILED
    reason: str | None = None


class ProvisionedStatus(Protocol):
    """Who knows the state of each provisioned target (the environments layer)."""

    def state(self, scope: Scope, name: str, qualifier: str) -> ProvisionedState: ...
