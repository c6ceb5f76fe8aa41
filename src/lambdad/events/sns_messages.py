"""SNS HTTP/S delivery as a subscriber receives it, and the Lambda event made from it.

An SNS topic delivers to an HTTP(S) subscription (lambdad's ``/sns/<region>/<account>/
<function>[:<qualifier>]``, issue 18) by POSTing a JSON document whose ``Type`` is
``Notification``, ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation``, with the
fields the SNS Developer Guide lists ("HTTP/HTTPS notification JSON format", "... subscription
confirmation ...", "... unsubscribe confirmation ..."). This module owns, all pure:

- ``parse_message(body, headers)``: the document and its ``x-amz-sns-*`` headers, checked
  into a frozen ``SnsMessage`` (``InvalidSnsMessage`` says why not). AWS sends
  ``Content-Type: text/plain; charset=UTF-8`` with ``x-amz-sns-message-type``,
  ``-message-id``, ``-topic-arn`` (and ``-subscription-arn``) headers, which must agree with
  the body. Services that post the same JSON as ``text/plain`` without any ``x-amz-sns-*``
  header (moto does) are accepted on the body alone; ``SnsMessage.sns_headers`` says which
  it was. Raw message delivery (``x-amz-sns-rawdelivery: true``) is refused: it carries
  no signature, timestamp or attributes for the Lambda event.
- ``string_to_sign`` and ``verify_signature(message, certificate_pem)``: the signature of
  "Verifying the signatures of Amazon SNS messages": name and value lines, each ending in a
  newline, in byte order of the names — ``Message, MessageId, Subject (if present),
  Timestamp, TopicArn, Type`` for a notification; ``Message, MessageId, SubscribeURL,
  Timestamp, Token, TopicArn, Type`` for both confirmations — RSA PKCS#1 v1.5 over SHA1
  (``SignatureVersion`` "1") or SHA256 ("2"). Fetching the certificate is the caller's job.
- ``signing_cert_location(url, sns_endpoint=...)`` / ``may_fetch_signing_cert``: whether a
  ``SigningCertURL`` may be fetched, and from where.
- ``lambda_event(message)``: the ``{"Records": [{"EventSource": "aws:sns", ...}]}`` event
  Lambda gives a function subscribed to a topic ("Using Lambda with Amazon SNS"). Its
  ``Sns`` member spells ``SigningCertUrl``/``UnsubscribeUrl`` where the HTTP document
  spells ``SigningCertURL``/``UnsubscribeURL``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import SplitResult, parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lambdad.errors import LambdadError

__all__ = [
    "InvalidSnsMessage",
    "MessageAttribute",
    "MessageType",
    "SnsMessage",
    "SnsSignatureError",
    "is_aws_sns_host",
    "lambda_event",
    "may_fetch_signing_cert",
    "parse_message",
    "signing_cert_location",
    "string_to_sign",
    "verify_signature",
]

SNS_HEADER_PREFIX: Final = "x-amz-sns-"
# What AWS sends is text/plain; application/json is what a JSON body honestly is. A
# request without a Content-Type is judged by its body.
ACCEPTED_MEDIA_TYPES: Final = frozenset({"text/plain", "application/json"})

# The DNS suffix of every AWS partition (botocore's partitions.json: aws and aws-us-gov,
# aws-cn, aws-eusc, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f). SNS serves its signing
# certificates at https://sns.<region>.<suffix>/SimpleNotificationService-<id>.pem.
AWS_DNS_SUFFIXES: Final = (
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
)
_AWS_SNS_HOST: Final = re.compile(
    r"sns\.[a-z]{2,4}(?:-[a-z]+)+-[0-9]{1,2}\.(?:"
    + "|".join(re.escape(suffix) for suffix in AWS_DNS_SUFFIXES)
    + r")"
)


class MessageType(StrEnum):
    """The ``Type`` of an SNS HTTP/S message (and its ``x-amz-sns-message-type`` header)."""

    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


class InvalidSnsMessage(LambdadError):
    """A request that is not an SNS message lambdad accepts; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Not an SNS message: {reason}")
        self.reason = reason


class SnsSignatureError(LambdadError):
    """A message whose signature does not verify (or cannot be checked)."""


# The fields each type must carry, as the SNS Developer Guide lists them. The signature
# fields (SignatureVersion, Signature, SigningCertURL) are checked apart: all or none.
_COMMON: Final = ("Type", "MessageId", "TopicArn", "Message", "Timestamp")
REQUIRED_FIELDS: Final[Mapping[MessageType, tuple[str, ...]]] = {
    MessageType.NOTIFICATION: (*_COMMON, "UnsubscribeURL"),
    MessageType.SUBSCRIPTION_CONFIRMATION: (*_COMMON, "Token", "SubscribeURL"),
    MessageType.UNSUBSCRIBE_CONFIRMATION: (*_COMMON, "Token", "SubscribeURL"),
}
SIGNATURE_FIELDS: Final = ("SignatureVersion", "Signature", "SigningCertURL")
_OPTIONAL_STRINGS: Final = ("Subject", "UnsubscribeURL", "Token", "SubscribeURL")

# The string to sign, names in byte order; a notification's Subject only when present.
_CONFIRMATION_SIGNED: Final = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS: Final[Mapping[MessageType, tuple[str, ...]]] = {
    MessageType.NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    MessageType.SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_SIGNED,
    MessageType.UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_SIGNED,
}

_HASHES: Final[Mapping[str, type[hashes.HashAlgorithm]]] = {
    "1": hashes.SHA1,  # SHA1withRSA
    "2": hashes.SHA256,  # SHA256withRSA
}


@dataclass(frozen=True)
class MessageAttribute:
    """One of a notification's ``MessageAttributes``: ``Type`` (String, String.Array,
    Number, Binary, with any custom suffix) and ``Value`` (base64 for Binary), as sent."""

    type: str
    value: str


@dataclass(frozen=True)
class SnsMessage:
    """One SNS HTTP/S message, fields as the JSON document carried them.

    ``subscription_arn`` comes from the ``x-amz-sns-subscription-arn`` header, or else the
    ``SubscriptionArn`` parameter of the ``UnsubscribeURL``; ``sns_headers`` is whether
    any ``x-amz-sns-*`` header came with the body."""

    type: MessageType
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    subject: str | None = None
    token: str | None = None
    subscribe_url: str | None = None
    unsubscribe_url: str | None = None
    signature_version: str | None = None
    signature: str | None = None
    signing_cert_url: str | None = None
    message_attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    subscription_arn: str | None = None
    sns_headers: bool = False

    @property
    def is_signed(self) -> bool:
        return self.signature is not None

    @property
    def published_at(self) -> datetime:
        """``Timestamp`` as an aware datetime (validated by ``parse_message``)."""
        return _parse_timestamp(self.timestamp)

    def field_value(self, name: str) -> str | None:
        """A field by the name the JSON document gives it (``"MessageId"``...)."""
        return {
            "Type": self.type.value,
            "MessageId": self.message_id,
            "TopicArn": self.topic_arn,
            "Message": self.message,
            "Timestamp": self.timestamp,
            "Subject": self.subject,
            "Token": self.token,
            "SubscribeURL": self.subscribe_url,
            "UnsubscribeURL": self.unsubscribe_url,
            "SignatureVersion": self.signature_version,
            "Signature": self.signature,
            "SigningCertURL": self.signing_cert_url,
        }[name]


# ---------------------------------------------------------------------------- parsing


def parse_message(body: bytes | str, headers: Mapping[str, str]) -> SnsMessage:
    """The SNS message an HTTP POST carries (``headers`` in any case)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if lowered.get("x-amz-sns-rawdelivery", "").strip().lower() == "true":
        raise InvalidSnsMessage(
            "raw message delivery is not supported; set RawMessageDelivery to false on "
            "the subscription"
        )
    media_type = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type not in ACCEPTED_MEDIA_TYPES:
        raise InvalidSnsMessage(f"unexpected Content-Type {media_type!r}")
    document = _decode_document(body)
    kind = _message_type(document.get("Type"))
    for name in REQUIRED_FIELDS[kind]:
        if name not in document:
            raise InvalidSnsMessage(f"a {kind} message has a {name}")
    for name in (*_COMMON, *_OPTIONAL_STRINGS, *SIGNATURE_FIELDS):
        if name in document and not isinstance(document[name], str):
            if name == "Subject" and document[name] is None:
                continue
            raise InvalidSnsMessage(f"{name} is a string")
    signature_fields = [name for name in SIGNATURE_FIELDS if name in document]
    if signature_fields and len(signature_fields) != len(SIGNATURE_FIELDS):
        raise InvalidSnsMessage(
            f"a signed message has all of {', '.join(SIGNATURE_FIELDS)}; "
            f"this one has only {', '.join(signature_fields)}"
        )
    _parse_timestamp(document["Timestamp"])
    sns_headers = {
        name: value for name, value in lowered.items() if name.startswith(SNS_HEADER_PREFIX)
    }
    for header, name in (
        ("x-amz-sns-message-type", "Type"),
        ("x-amz-sns-message-id", "MessageId"),
        ("x-amz-sns-topic-arn", "TopicArn"),
    ):
        if header in sns_headers and sns_headers[header] != document[name]:
            raise InvalidSnsMessage(f"header {header} disagrees with the body's {name}")
    unsubscribe_url = document.get("UnsubscribeURL")
    return SnsMessage(
        type=kind,
        message_id=document["MessageId"],
        topic_arn=document["TopicArn"],
        message=document["Message"],
        timestamp=document["Timestamp"],
        subject=document.get("Subject"),
        token=document.get("Token"),
        subscribe_url=document.get("SubscribeURL"),
        unsubscribe_url=unsubscribe_url,
        signature_version=document.get("SignatureVersion"),
        signature=document.get("Signature"),
        signing_cert_url=document.get("SigningCertURL"),
        message_attributes=_message_attributes(document.get("MessageAttributes")),
        subscription_arn=sns_headers.get("x-amz-sns-subscription-arn")
        or _subscription_arn_in(unsubscribe_url),
        sns_headers=bool(sns_headers),
    )


def _decode_document(body: bytes | str) -> dict[str, Any]:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSnsMessage("the body is not a JSON document") from exc
    if not isinstance(document, dict):
        raise InvalidSnsMessage("the body is not a JSON object")
    return document


def _message_type(value: object) -> MessageType:
    for kind in MessageType:
        if value == kind.value:
            return kind
    known = ", ".join(kind.value for kind in MessageType)
    raise InvalidSnsMessage(f"Type {value!r} is none of {known}")


def _parse_timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidSnsMessage(f"Timestamp {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidSnsMessage(f"Timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


def _message_attributes(value: object) -> dict[str, MessageAttribute]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSnsMessage("MessageAttributes is an object")
    attributes = {}
    for name, attribute in value.items():
        if not (
            isinstance(attribute, dict)
            and isinstance(attribute.get("Type"), str)
            and isinstance(attribute.get("Value"), str)
        ):
            raise InvalidSnsMessage(f"message attribute {name!r} has a string Type and Value")
        attributes[name] = MessageAttribute(attribute["Type"], attribute["Value"])
    return attributes


def _subscription_arn_in(unsubscribe_url: str | None) -> str | None:
    if not unsubscribe_url:
        return None
    values = parse_qs(urlsplit(unsubscribe_url).query).get("SubscriptionArn")
    return values[0] if values else None


# ------------------------------------------------------------------------- signatures


def string_to_sign(message: SnsMessage) -> bytes:
    """The canonical text SNS signs for ``message``, UTF-8 encoded."""
    lines = []
    for name in SIGNED_FIELDS[message.type]:
        value = message.field_value(name)
        if value is None:  # only a notification's Subject may be absent
            continue
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def verify_signature(
    message: SnsMessage, certificate_pem: bytes, *, at: datetime | None = None
) -> None:
    """Raise ``SnsSignatureError`` unless ``message`` is signed by the key of the X.509
    certificate ``certificate_pem`` (and, given ``at``, the certificate is valid then).

    The certificate's trust comes from where it was fetched (``signing_cert_location``),
    as in AWS's SDK validators; its chain is not checked here."""
    if not message.is_signed:
        raise SnsSignatureError("the message is not signed")
    algorithm = _HASHES.get(message.signature_version or "")
    if algorithm is None:
        raise SnsSignatureError(
            f"SignatureVersion {message.signature_version!r} is neither 1 nor 2"
        )
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise SnsSignatureError("the signing certificate is not a PEM certificate") from exc
    if at is not None and not (
        certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc
    ):
        raise SnsSignatureError(f"the signing certificate is not valid at {at.isoformat()}")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsSignatureError("the signing certificate's key is not an RSA key")
    try:
        signature = base64.b64decode(message.signature or "", validate=True)
    except binascii.Error as exc:
        raise SnsSignatureError("the Signature is not base64") from exc
    try:
        public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsSignatureError(
            f"the signature of {message.type} {message.message_id} does not verify"
        ) from None


# ----------------------------------------------------------------- certificate source


def is_aws_sns_host(host: str) -> bool:
    """Whether ``host`` is SNS's own in an AWS partition: ``sns.<region>.<suffix>``."""
    return _AWS_SNS_HOST.fullmatch(host.lower()) is not None


def signing_cert_location(url: str, *, sns_endpoint: str | None = None) -> str | None:
    """Where to fetch the certificate a ``SigningCertURL`` names, or ``None`` if it must
    not be fetched.

    Allowed: a path ending in ``.pem``, no user info, and either (a) ``https`` on an AWS
    SNS host (any partition) on the default port, or (b) the operator's configured SNS
    endpoint (``AWS_ENDPOINT_URL_SNS``): same scheme, host and port exactly (its scheme
    is the operator's choice, so ``http`` is allowed there). When that endpoint is not
    AWS's own, an AWS-host URL is fetched from the same path on the endpoint, which stands
    in for AWS's SNS as it does for every SNS call lambdad makes (moto names
    ``https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem`` and serves
    it at that path on its own endpoint)."""
    parts = _split(url)
    if parts is None or not parts.path.endswith(".pem") or parts.username is not None:
        return None
    endpoint = _split(sns_endpoint) if sns_endpoint else None
    if endpoint is not None and _origin(parts) == _origin(endpoint):
        return url
    if parts.scheme.lower() != "https" or parts.port not in (None, 443):
        return None
    if not is_aws_sns_host(parts.hostname or ""):
        return None
    if endpoint is None or is_aws_sns_host(endpoint.hostname or ""):
        return url
    base = sns_endpoint.rstrip("/") if sns_endpoint else ""
    return base + parts.path


def may_fetch_signing_cert(url: str, *, sns_endpoint: str | None = None) -> bool:
    """Whether a ``SigningCertURL`` may be fetched at all (``signing_cert_location``)."""
    return signing_cert_location(url, sns_endpoint=sns_endpoint) is not None


def _split(url: str) -> SplitResult | None:
    """``url`` split, or ``None`` unless it is an http(s) URL with a host and a valid port."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    return scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80)


# ----------------------------------------------------------------------- Lambda event


def lambda_event(message: SnsMessage, *, subscription_arn: str | None = None) -> dict[str, Any]:
    """The event Lambda passes a function subscribed to the topic, for one notification.

    ``subscription_arn`` (``EventSubscriptionArn``) defaults to the message's own. A
    message without ``Subject`` gives ``"Subject": null``, as Lambda does; an unsigned one
    (a service that does not sign) leaves out the three signature members."""
    if message.type is not MessageType.NOTIFICATION:
        raise ValueError(f"only a Notification becomes a Lambda event, not {message.type}")
    arn = subscription_arn or message.subscription_arn
    if not arn:
        raise ValueError(f"no subscription ARN for message {message.message_id}")
    sns: dict[str, Any] = {
        "Type": message.type.value,
        "MessageId": message.message_id,
        "TopicArn": message.topic_arn,
        "Subject": message.subject,
        "Message": message.message,
        "Timestamp": message.timestamp,
    }
    if message.is_signed:
        sns["SignatureVersion"] = message.signature_version
        sns["Signature"] = message.signature
        sns["SigningCertUrl"] = message.signing_cert_url
    sns["UnsubscribeUrl"] = message.unsubscribe_url
    sns["MessageAttributes"] = {
        name: {"Type": attribute.type, "Value": attribute.value}
        for name, attribute in message.message_attributes.items()
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": arn,
                "Sns": sns,
            }
        ]
    }
