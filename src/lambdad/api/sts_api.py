"""The STS subset lambdad answers: ``GetCallerIdentity``, over STS's query protocol.

Tools ask STS who they are before anything else (the AWS CLI's
``sts get-caller-identity``, SAM CLI, CDK, Terraform's AWS provider), to learn the
account their resources live in. lambdad's credentials are account root credentials,
so the identity is the account's root: ``arn:aws:iam::ACCOUNT:root``; a function's
execution-role session is its assumed role:
``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``, as on AWS.

A request is recognised by the service of its SigV4 scope (``sts``) on the API port,
or, unsigned, by a form-encoded ``POST /`` (so that it is refused in STS's own
shape). Parameters come form-encoded in the body or in the query string
(``Action=GetCallerIdentity&Version=2011-06-15``); the answer is STS's XML, errors
included (``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``),
which is what botocore's query parser reads.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from lambdad.api import sigv4
from lambdad.clock import Clock
from lambdad.errors import (
    AwsError,
    IncompleteSignatureException,
    InvalidSignatureException,
    LambdadError,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from lambdad.model.credential import Credential
from lambdad.model.session import Session

log = logging.getLogger(__name__)

VERSION = "2011-06-15"
NAMESPACE = f"https://sts.amazonaws.com/doc/{VERSION}/"
_FORM = "application/x-www-form-urlencoded"
# STS's codes for what sigv4.verify raises (the Lambda API spells them otherwise).
_AUTH_CODES: dict[type[AwsError], tuple[int, str]] = {
    MissingAuthenticationTokenException: (403, "MissingAuthenticationToken"),
    UnrecognizedClientException: (403, "InvalidClientTokenId"),
    InvalidSignatureException: (403, "SignatureDoesNotMatch"),
    IncompleteSignatureException: (400, "IncompleteSignature"),
}
# STS operations that exist but lambdad does not answer yet.
_NOT_YET = frozenset(
    {
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "AssumeRoot",
        "DecodeAuthorizationMessage",
        "GetAccessKeyInfo",
        "GetDelegatedAccessToken",
        "GetFederationToken",
        "GetSessionToken",
    }
)

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


class StsError(LambdadError):
    """An error answered in STS's XML shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def is_sts_request(path: str, query_string: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether a request on the API port is meant for STS (``headers``: lower-case names)."""
    if path.partition("?")[0] != "/":
        return False
    service = sigv4.signing_service(headers, query_string)
    if service is not None:
        return service == "sts"
    # Unsigned: the query protocol's form body, which neither Lambda nor Logs uses.
    content_type = next((v for k, v in headers if k == "content-type"), "")
    return content_type.startswith(_FORM) and not any(k == "x-amz-target" for k, _ in headers)


class StsApi:
    def __init__(
        self,
        lookup: Callable[[str], Credential | None],
        clock: Clock,
        open_session: sigv4.OpenSession | None = None,
    ) -> None:
        self.lookup = lookup
        self.clock = clock
        self.open_session = open_session

    def respond(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
        request_id: str,
    ) -> Response:
        """The answer to one STS request; never raises."""
        try:
            principal = self._authenticate(method, path, query_string, headers, body)
            action = self._action(query_string, headers, body)
            identity = _caller_identity(principal.credential, principal.session)
            return _ok(action, identity, request_id)
        except StsError as exc:
            return _error(exc, request_id)
        except Exception:
            log.exception("STS request %s failed", request_id)
            failure = StsError(500, "InternalFailure", "An internal error occurred.")
            return _error(failure, request_id)

    def _authenticate(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> sigv4.Principal:
        try:
            return sigv4.verify(
                method,
                path,
                query_string,
                headers,
                body,
                self.lookup,
                self.clock.now(),
                service="sts",
                sessions=self.open_session,
            )
        except AwsError as exc:
            status, code = _AUTH_CODES.get(type(exc), (403, "AccessDenied"))
            raise StsError(status, code, exc.message) from None

    @staticmethod
    def _action(query_string: str, headers: list[tuple[str, str]], body: bytes) -> str:
        params = dict(parse_qsl(query_string, keep_blank_values=True))
        content_type = next((v for k, v in headers if k == "content-type"), "")
        if body and content_type.startswith(_FORM):
            try:
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            except UnicodeDecodeError:
                raise StsError(400, "MalformedInput", "The request body is not UTF-8.") from None
        action = params.get("Action")
        if not action:
            raise StsError(400, "MissingAction", "Missing Action")
        version = params.get("Version", VERSION)
        if version != VERSION or not (action == "GetCallerIdentity" or action in _NOT_YET):
            raise StsError(
                400, "InvalidAction", f"Could not find operation {action} for version {version}"
            )
        if action != "GetCallerIdentity":
            raise StsError(
                400, "InvalidAction", f"The operation {action} is not supported by lambdad yet."
            )
        return action


def _caller_identity(credential: Credential, session: Session | None) -> dict[str, str]:
    account = credential.account_id
    if session is not None:
        # A role's unique id (AROA...) is stable per role; the session name follows it.
        digest = hashlib.sha256(session.role_arn.encode()).hexdigest().upper()
        role_id = "AROA" + "".join(c for c in digest if c.isalnum())[:17]
        arn = session.assumed_role_arn
        return {"Arn": arn, "UserId": f"{role_id}:{session.session_name}", "Account": account}
    # Root credentials: AWS answers the account id as the user id.
    return {"Arn": f"arn:aws:iam::{account}:root", "UserId": account, "Account": account}


def _ok(action: str, result: dict[str, str], request_id: str) -> Response:
    members = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in result.items())
    body = (
        f'<{action}Response xmlns="{NAMESPACE}">'
        f"<{action}Result>{members}</{action}Result>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return 200, _headers(request_id), body.encode()


def _error(exc: StsError, request_id: str) -> Response:
    kind = "Receiver" if exc.status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}">'
        f"<Error><Type>{kind}</Type><Code>{exc.code}</Code>"
        f"<Message>{escape(exc.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return exc.status, _headers(request_id), body.encode()


def _headers(request_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode())]
