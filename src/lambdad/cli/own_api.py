"""Requests to lambdad's own endpoints (``/_lambdad/...``) on the API port, signed
(for ``lambda``, or the service an endpoint names) as the target's credential, with
what can go wrong turned into a message that says what to do."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import click

from lambdad.cli.target import Target


def request(
    target: Target,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
    service: str = "lambda",
) -> bytes:
    """The body of the server's answer (ClickException: an error, or no server)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    # Names the user typed go into the path as one segment each, whatever they hold.
    url = target.endpoint + urllib.parse.quote(path, safe="/?=&%")
    headers = {"Content-Type": content_type} if body else {}
    signed_request = AWSRequest(method, url, data=body, headers=headers)
    credentials = Credentials(target.access_key_id, target.secret_access_key, target.session_token)
    SigV4Auth(credentials, service, target.region).add_auth(signed_request)
    outgoing = urllib.request.Request(
        url, data=body or None, headers=dict(signed_request.headers.items()), method=method
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=120) as response:
            answer: bytes = response.read()
            return answer
    except urllib.error.HTTPError as exc:
        kind = exc.headers.get("x-amzn-ErrorType", str(exc.code)).split(":")[0]
        try:
            doc = json.loads(exc.read())
            message = doc.get("message") or doc.get("Message") or ""
            kind = str(doc.get("__type") or kind)
        except ValueError:
            message = exc.reason
        raise click.ClickException(f"{kind}: {message}") from None
    except (urllib.error.URLError, OSError):
        raise click.ClickException(
            f"cannot reach lambdad at {target.endpoint}: is `lambdad serve` running? "
            "(set AWS_ENDPOINT_URL or --endpoint-url to point elsewhere)"
        ) from None
