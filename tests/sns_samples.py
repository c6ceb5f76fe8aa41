"""SNS HTTP/S deliveries for tests, signed the way the SNS guide describes ("Verifying
the signatures of Amazon SNS messages") with a key and self-signed certificate the test
makes: the signer is written from the guide, not from lambdad's module."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:us-east-2:123456789012:MyTopic"
SUBSCRIPTION = f"{TOPIC}:c9135db0-26c4-47ec-8998-413945fb5a96"
CERT_URL = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
UNSUBSCRIBE_URL = (
    f"https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}"
)
SUBSCRIBE_URL = (
    f"https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}"
    "&Token=2336412f37"
)
NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2034, 1, 1, tzinfo=UTC)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(private_key: Any, public_key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def sign(document: dict[str, Any], key: rsa.RSAPrivateKey, version: str) -> dict[str, Any]:
    """``document`` signed as SNS does: name/value lines in byte order of the names."""
    if document["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{document[name]}\n" for name in names if name in document)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {
        **document,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
        "SigningCertURL": CERT_URL,
    }


def notification(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "My First Message",
        "Message": 'Hello world!\n{"a": "é"}',
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "UnsubscribeURL": UNSUBSCRIBE_URL,
        **fields,
    }


def confirmation(kind: str = "SubscriptionConfirmation", **fields: Any) -> dict[str, Any]:
    return {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": "2012-04-26T20:45:04.751Z",
        **fields,
    }


def aws_headers(document: dict[str, Any]) -> dict[str, str]:
    """The headers AWS sends with a delivery (SNS guide's HTTP POST examples)."""
    headers = {
        "x-amz-sns-message-type": document["Type"],
        "x-amz-sns-message-id": document["MessageId"],
        "x-amz-sns-topic-arn": document["TopicArn"],
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if document["Type"] != "SubscriptionConfirmation":
        headers["x-amz-sns-subscription-arn"] = SUBSCRIPTION
    return headers
