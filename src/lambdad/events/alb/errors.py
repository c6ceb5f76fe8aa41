"""Elastic Load Balancing's errors: the query protocol's ``<Code>`` and status."""

from __future__ import annotations

from lambdad.errors import AwsError


class ElbError(AwsError):
    """An ELB error by its code (``LoadBalancerNotFound``, ``ValidationError``…)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.elb_code = code
        self.elb_status = status

    @property
    def code(self) -> str:
        return self.elb_code


def not_found(kind: str, what: str) -> ElbError:
    messages = {
        "LoadBalancerNotFound": "One or more load balancers not found",
        "TargetGroupNotFound": "One or more target groups not found",
        "ListenerNotFound": "One or more listeners not found",
        "RuleNotFound": "One or more rules not found",
    }
    return ElbError(kind, messages.get(kind, f"{what} not found"))


def invalid(message: str) -> ElbError:
    return ElbError("ValidationError", message)
