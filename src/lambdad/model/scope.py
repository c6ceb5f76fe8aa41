"""Who is asking, and in which world: every resource lives in an (account, region)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    account: str
    region: str
