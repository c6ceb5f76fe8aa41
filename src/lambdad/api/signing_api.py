"""lambdad's own signing-profile endpoints, on the API port beside Lambda's.

Signing profiles are keys the server keeps (``control/signing_profiles``), so the
``lambdad signing-profile`` and ``lambdad sign`` commands are requests to it, signed
for ``lambda`` like every other:

- ``GET  /_lambdad/signing-profiles``: the caller's profiles, ``{"Profiles": [...]}``;
- ``POST /_lambdad/signing-profiles/NAME``: a new version of profile NAME (JSON body,
  optional ``{"SignatureValidityDays": n}``);
- ``POST /_lambdad/signing-profiles/NAME/revoke``: ``{"ProfileVersion": v,
  "EffectiveTime": iso, "Reason": text}`` (time optional: now);
- ``POST /_lambdad/signing-profiles/NAME/sign``: the body is a .zip archive; the answer
  is the archive signed, as a signing job's output.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lambdad.api.context import RequestContext
from lambdad.control.signing_profiles import SigningProfiles
from lambdad.errors import InvalidParameterValueException, UnknownOperationException

PREFIX = "/_lambdad/signing-profiles"

Answer = tuple[int, dict[str, str], bytes]


class SigningApi:
    action = "signer:*"

    def __init__(self, profiles: SigningProfiles) -> None:
        self.profiles = profiles

    def answers(self, path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def respond(self, ctx: RequestContext, method: str, path: str, body: bytes) -> Answer:
        parts = path[len(PREFIX) :].strip("/").split("/") if path != PREFIX else []
        scope = ctx.scope
        if method == "GET" and not parts:
            return _json({"Profiles": self.profiles.list(scope)})
        if method == "POST" and len(parts) == 1:
            days = _document(body).get("SignatureValidityDays")
            if days is not None and not isinstance(days, int):
                raise InvalidParameterValueException("SignatureValidityDays must be a number.")
            return _json(self.profiles.create(scope, parts[0], days), 201)
        if method == "POST" and len(parts) == 2 and parts[1] == "revoke":
            doc = _document(body)
            version = doc.get("ProfileVersion")
            if not isinstance(version, str):
                raise InvalidParameterValueException("ProfileVersion is required.")
            effective = _time(doc.get("EffectiveTime"))
            self.profiles.revoke(scope, parts[0], version, effective, str(doc.get("Reason", "")))
            return 204, {}, b""
        if method == "POST" and len(parts) == 2 and parts[1] == "sign":
            signed = self.profiles.sign(scope, parts[0], body)
            return 200, {"Content-Type": "application/zip"}, signed
        raise UnknownOperationException(f"Unknown operation: {method} {path}")


def _json(doc: dict[str, Any], status: int = 200) -> Answer:
    return status, {}, json.dumps(doc).encode()


def _document(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidParameterValueException("The request body is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise InvalidParameterValueException("The request body must be a JSON object.")
    return doc


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidParameterValueException(f"EffectiveTime {value!r} is not a time.") from None
    if moment.tzinfo is None:
        raise InvalidParameterValueException("EffectiveTime must carry a time zone.")
    return moment
