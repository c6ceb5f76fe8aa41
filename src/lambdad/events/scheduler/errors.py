"""Scheduler's exceptions beyond those ``lambdad.errors`` shares, named as the
``scheduler`` model names them, and the messages Scheduler answers with."""

from __future__ import annotations

from lambdad.errors import AwsError, ResourceNotFoundException


class ConflictException(AwsError):
    """A schedule or group that exists already, or a group being deleted."""

    status = 409
    message_key = "Message"


def schedule_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Schedule {name} does not exist.")


def group_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Schedule group {name} does not exist.")
