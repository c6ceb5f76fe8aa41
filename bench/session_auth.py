"""What execution-role sessions cost the API port: SigV4 verification of one request
signed with a long-term key, with a role session's key (its token opened from the
cache, as for every request after a function's first), and the token's first opening
(AES-GCM), in alternating blocks of the same run.

    python bench/session_auth.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import _common as c

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PATH = "/2015-03-31/functions/f"


def _headers(key: str, secret: str, token: str | None) -> list[tuple[str, str]]:
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url="http://127.0.0.1:9550" + PATH)
    with mock.patch.object(
        botocore.auth, "get_current_datetime", return_value=NOW.replace(tzinfo=None)
    ):
        SigV4Auth(Credentials(key, secret, token), "lambda", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return [("Host", "127.0.0.1:9550"), *((k, str(v)) for k, v in prepared.headers.items())]


def measure(n: int, blocks: int) -> dict[str, dict[str, float]]:
    from lambdad.api.sigv4 import verify
    from lambdad.model.credential import Credential
    from lambdad.model.session import SessionIssuer, open_token

    issuer = SessionIssuer(bytes(32), 3600)
    role = f"arn:aws:iam::{c.ACCOUNT}:role/r"
    session = issuer.mint(c.ACCOUNT, role, f"arn:aws:lambda:{c.REGION}:{c.ACCOUNT}:function:f", NOW)
    long_term = Credential("AKIDBENCH", "secret", c.ACCOUNT)
    signed_long = _headers("AKIDBENCH", "secret", None)
    signed_session = _headers(session.access_key_id, session.secret_access_key, session.token)

    def lookup(key: str) -> Credential | None:
        return long_term if key == "AKIDBENCH" else None

    cases = {
        "verify, long-term key": lambda: verify("GET", PATH, "", signed_long, b"", lookup, NOW),
        "verify, role session (token cached)": lambda: verify(
            "GET", PATH, "", signed_session, b"", lookup, NOW, sessions=issuer.open
        ),
        "open a token (AES-GCM, first request)": lambda: open_token(
            bytes(32), session.access_key_id, session.token
        ),
    }
    return c.alternating({label: _us_per_call(case) for label, case in cases.items()}, n, blocks)


def _us_per_call(case: Callable[[], object]) -> Callable[[int], float]:
    def block(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            case()
        return (time.perf_counter() - start) / count * 1e6

    return block


def main() -> int:
    args = c.parse_args(2000, 100_000)
    n = args.n
    rows = measure(n, 10 if args.quick else 50)
    c.print_rows(f"SigV4 verification, {n} each, alternating blocks", rows, unit="us")
    c.write_rows("session_auth", args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
