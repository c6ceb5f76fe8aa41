"""SAM templates translated to CloudFormation with AWS's own ``aws-sam-translator``,
offline: managed policy names are mapped to their ARNs by name (no IAM call)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from lambdad.deploy.errors import ValidationError
from lambdad.deploy.parameters import StackIdentity

# AWS managed policies that live under a path (the others are arn:aws:iam::aws:policy/NAME).
_SERVICE_ROLE = frozenset(
    {
        "AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSLambdaRole",
        "AWSLambdaSQSQueueExecutionRole", "AWSLambdaKinesisExecutionRole",
        "AWSLambdaDynamoDBExecutionRole", "AWSLambdaMSKExecutionRole",
        "AWSXRayDaemonWriteAccess", "AWSLambdaENIManagementAccess",
    }
)  # fmt: skip


class _PolicyMap(dict[str, str]):
    """Every name is a managed policy: lambdad has no IAM to ask which exist."""

    def __init__(self, partition: str) -> None:
        super().__init__()
        self.partition = partition

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and not name.startswith("arn:")

    def __missing__(self, name: str) -> str:
        path = "service-role/" if name in _SERVICE_ROLE else ""
        return f"arn:{self.partition}:iam::aws:policy/{path}{name}"

    def get(self, name: str, default: Any = None) -> Any:
        # Every name is "in" the map, so this is never the default.
        return self[name] if isinstance(name, str) and not name.startswith("arn:") else default


class _Loader:
    def __init__(self, partition: str) -> None:
        self.partition = partition

    def load(self) -> dict[str, str]:
        return _PolicyMap(self.partition)


def available() -> bool:
    try:
        import samtranslator  # noqa: F401
    except ImportError:
        return False
    return True


def translate(
    doc: Mapping[str, Any], parameters: Mapping[str, Any], identity: StackIdentity
) -> dict[str, Any]:
    """The CloudFormation template of a SAM template (ValidationError: SAM refused it)."""
    try:
        import boto3
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator
        from samtranslator.utils.py27hash_fix import (
            to_py27_compatible_template,
            undo_mark_unicode_str_in_template,
        )
    except ImportError:
        raise ValidationError(
            "Transform AWS::Serverless-2016-10-31 needs aws-sam-translator on the lambdad "
            "server (pip install aws-sam-translator)"
        ) from None
    values = {
        "AWS::Region": identity.region,
        "AWS::AccountId": identity.account,
        "AWS::StackName": identity.stack_name,
        "AWS::StackId": identity.stack_id,
        "AWS::Partition": identity.partition,
        "AWS::URLSuffix": identity.url_suffix,
        **parameters,
    }
    # The translator warns, on every template, that it has metrics nobody publishes.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    fragment = copy.deepcopy(dict(doc))
    policies = _Loader(identity.partition).load()
    try:
        to_py27_compatible_template(fragment, values)
        # The session only names the region (the translator asks boto3 for one).
        session = boto3.session.Session(region_name=identity.region)
        translator = Translator(None, Parser(), boto_session=session)
        out: dict[str, Any] = translator.translate(
            fragment, parameter_values=values, get_managed_policy_map=lambda: policies
        )
        out = undo_mark_unicode_str_in_template(out)
    except InvalidDocumentException as exc:
        # As CloudFormation words it: the document's count, then each cause's sentence
        # (a cause's str() is a tuple of its fields).
        causes = " ".join(str(getattr(c, "message", c)) for c in exc.causes)
        raise ValidationError(
            f"Transform AWS::Serverless-2016-10-31 failed with: {exc.message} {causes}".rstrip()
        ) from None
    except Exception as exc:
        raise ValidationError(f"Transform AWS::Serverless-2016-10-31 failed with: {exc}") from None
    return out
