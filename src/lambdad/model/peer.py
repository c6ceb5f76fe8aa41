"""The address of the client whose request is being answered.

The API port's connection protocol (``api/http.py``) knows the peer of each connection
and sets ``CLIENT`` in the task that answers each of its requests; layers above the
one responder every request goes through read it where AWS reports the caller's
address (a function URL's ``requestContext.http.sourceIp``). A context variable, so
that the responder's signature, shared by every front door and the API, stays as it is;
each request's task has its own value.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

# None outside a request of the API port (a test driving a responder directly).
CLIENT: Final[ContextVar[str | None]] = ContextVar("lambdad_client", default=None)
# The request's header names as the client spelled them, in the order of the (lower-cased)
# headers the responder gets: REST APIs hand functions the names as sent.
HEADER_NAMES: Final[ContextVar[list[str] | None]] = ContextVar("lambdad_header_names", default=None)
