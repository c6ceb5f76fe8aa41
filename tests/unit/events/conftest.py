"""Fixtures of the events tests: an RSA key and its certificate to sign SNS messages with."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sns_samples import make_certificate, new_key


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def cert(key: rsa.RSAPrivateKey) -> bytes:
    return make_certificate(key, key.public_key())
