"""What a new environment is given for its SDK: its role session's keys, lambdad (and
the operator's services) as endpoints, and a retirement before the keys expire."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lambdad.config import Settings
from lambdad.environments.blueprint import SESSION_MARGIN, Parts, blueprint
from lambdad.model import endpoints
from lambdad.model.scope import Scope
from lambdad.model.session import Session, SessionIssuer
from lambdad.model.version import from_configuration
from lambdad.runtimes.table import Launch

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/runner"
RV = from_configuration(
    Scope("123456789012", "us-east-1"),
    "fn",
    "$LATEST",
    {
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Role": ROLE,
        "Timeout": 30,
        "Environment": {"Variables": {}},
    },
    code_sha256_hex="ab" * 32,
    environment={"AWS_ENDPOINT_URL_S3": "http://mine:1"},
)


def _parts(**kw: object) -> Parts:
    return Parts(
        env_id="e1",
        launch=Launch("python", None, ("python",)),
        task_dir=Path("/var/task"),
        opt_dir=None,
        date=date(2026, 1, 1),
        network="isolated",
        **kw,  # type: ignore[arg-type]
    )


def test_session_keys_and_retirement() -> None:
    session = SessionIssuer(bytes(32), 3600).mint("123456789012", ROLE, RV.arn, NOW)
    spec, config = blueprint(RV, Settings(), _parts(session=session))
    assert spec.env["AWS_ACCESS_KEY_ID"] == session.access_key_id
    assert spec.env["AWS_SECRET_ACCESS_KEY"] == session.secret_access_key
    assert spec.env["AWS_SESSION_TOKEN"] == session.token
    assert config.retire_at == session.expires - timedelta(seconds=30) - SESSION_MARGIN


def test_without_a_session_no_keys_and_no_retirement() -> None:
    spec, config = blueprint(RV, Settings(), _parts())
    assert "AWS_ACCESS_KEY_ID" not in spec.env
    assert config.retire_at is None


def test_endpoints_under_the_functions_own_variables() -> None:
    plan = endpoints.plan("127.0.0.1", 9550, endpoints.parse("s3=http://127.0.0.1:4566", {}))
    spec, config = blueprint(RV, Settings(), _parts(endpoints=plan))
    assert spec.env["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:9550"
    assert spec.env["AWS_ENDPOINT_URL_S3"] == "http://mine:1"  # the function's own wins
    assert config.forwards == plan.forwards


def test_snapstart_gets_a_container_token_instead_of_keys() -> None:
    issuer = SessionIssuer(bytes(32), 3600)

    def mint() -> Session:
        return issuer.mint("123456789012", ROLE, RV.arn, NOW)

    spec, config = blueprint(RV, Settings(), _parts(container_token="tok", credentials=mint))
    assert spec.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == "tok"
    assert "AWS_ACCESS_KEY_ID" not in spec.env
    assert config.retire_at is None
    assert config.credentials is mint
