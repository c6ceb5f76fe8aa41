"""Where a RabbitMQ mapping's broker is and who it connects as (pure, but for reading the
operator's secrets file).

Amazon MQ brokers are named by ARN (``arn:aws:mq:REGION:ACCOUNT:broker:NAME:ID``); the
operator maps a broker's ARN, or its name, to an ``amqp://`` or ``amqps://`` URL
(``Settings.mq_brokers``). ``SourceAccessConfigurations`` name the credentials:
``BASIC_AUTH`` a Secrets Manager secret's ARN, which the operator's secrets file maps to
``{"username", "password"}`` (Secrets Manager itself is not served), and
``VIRTUAL_HOST`` the vhost (``/`` without one). As on AWS, a broker or a secret of
another account is refused: a tenant reaches only its own account's brokers and
secrets. What cannot be resolved is a ``BrokerProblem`` with the code AWS puts in
``StateTransitionReason``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

CONFIG_NOT_VALID: Final = "ESM_CONFIG_NOT_VALID"
AUTHN_ERROR: Final = "EVENT_SOURCE_AUTHN_ERROR"
AUTHZ_ERROR: Final = "EVENT_SOURCE_AUTHZ_ERROR"
BASIC_AUTH: Final = "BASIC_AUTH"
VIRTUAL_HOST: Final = "VIRTUAL_HOST"
PORTS: Final = {"amqp": 5672, "amqps": 5671}

log = logging.getLogger(__name__)


class BrokerProblem(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    host: str
    port: int
    ssl: bool
    vhost: str
    username: str
    password: str = ""

    def __repr__(self) -> str:  # never a password in a log line
        scheme = "amqps" if self.ssl else "amqp"
        return f"BrokerTarget({scheme}://{self.username}@{self.host}:{self.port} {self.vhost!r})"


def broker_url(source_arn: str, account: str, brokers: tuple[tuple[str, str], ...]) -> str:
    parts = source_arn.split(":")
    if len(parts) != 8 or parts[2] != "mq" or parts[5] != "broker":
        raise BrokerProblem(CONFIG_NOT_VALID, f"Not a broker ARN: {source_arn}")
    if parts[4] != account:
        raise BrokerProblem(CONFIG_NOT_VALID, "Cross-account brokers are not supported.")
    known = dict(brokers)
    url = known.get(source_arn) or known.get(parts[6])
    if not url:
        raise BrokerProblem(CONFIG_NOT_VALID, f"Broker {parts[6]} is not configured.")
    return url


def target(
    source_arn: str,
    account: str,
    access: tuple[tuple[str, str], ...],
    brokers: tuple[tuple[str, str], ...],
    secrets: Mapping[str, Any],
) -> BrokerTarget:
    url = urlsplit(broker_url(source_arn, account, brokers))
    if url.scheme not in PORTS or not url.hostname:
        raise BrokerProblem(CONFIG_NOT_VALID, "The broker's URL is not an AMQP URL.")
    configs = dict(access)
    vhost = configs.get(VIRTUAL_HOST) or "/"
    secret_arn = configs.get(BASIC_AUTH)
    if not secret_arn:
        raise BrokerProblem(CONFIG_NOT_VALID, "BASIC_AUTH is required for RabbitMQ brokers.")
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager" or parts[4] != account:
        raise BrokerProblem(CONFIG_NOT_VALID, f"The secret {secret_arn} cannot be used.")
    secret = secrets.get(secret_arn)
    if not isinstance(secret, Mapping) or not isinstance(secret.get("username"), str):
        raise BrokerProblem(AUTHN_ERROR, f"The secret {secret_arn} holds no username.")
    return BrokerTarget(
        host=url.hostname,
        port=url.port or PORTS[url.scheme],
        ssl=url.scheme == "amqps",
        vhost=vhost,
        username=secret["username"],
        password=str(secret.get("password") or ""),
    )


def load_secrets(path: str) -> dict[str, Any]:
    """The operator's secrets file (read at every connection, so edits apply without a
    restart); empty without one."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:  # the tenant sees the code, not the server's path
        log.warning("the MQ secrets file %s cannot be read: %s", path, exc)
        raise BrokerProblem(AUTHN_ERROR, "The broker's secrets cannot be read.") from None
    return data if isinstance(data, dict) else {}
