"""SnapStart: a published version's init run once into a template that its new
environments are forked from (being built; see ``build``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdad.control.functions import ResolvedVersion


class SnapshotFailed(Exception):
    """The version's snapshot could not be taken (its init failed); the message says
    why, as the version's ``StateReason`` does."""


class Snapshots:
    async def build(self, rv: ResolvedVersion) -> None:
        """Take ``rv``'s snapshot (run its init into a template). Raises
        ``SnapshotFailed`` when its init fails."""
        return None

    async def discard(self, account: str, region: str, name: str, version: str) -> None:
        """Drop the version's template (the version was deleted)."""
        return None
