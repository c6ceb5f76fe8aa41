"""EventBridge's own exceptions (beyond the ones in ``lambdad.errors`` it shares with
Lambda), named as the ``events`` model names them. The API answers each with 400."""

from __future__ import annotations

from lambdad.errors import AwsError


class InvalidEventPatternException(AwsError):
    """A rule's or a TestEventPattern's pattern AWS refuses, with event-ruler's reason."""


class ResourceAlreadyExistsException(AwsError):
    """CreateEventBus of a name the account already has in the region."""


class LimitExceededException(AwsError):
    """More targets on a rule (or buses in a region) than EventBridge allows."""
