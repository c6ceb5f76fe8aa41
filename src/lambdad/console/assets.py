"""The console's own stylesheet and script, served from the package (no CDN, nothing
from another origin: the pages' Content-Security-Policy allows only these)."""

from __future__ import annotations

import functools
from importlib import resources

from lambdad.console.web import Response, asset

_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}


@functools.cache
def _read(name: str) -> bytes:
    return resources.files("lambdad.console").joinpath("assets", name).read_bytes()


def serve(name: str) -> Response | None:
    ctype = _TYPES.get(name)
    if ctype is None:
        return None
    return asset(_read(name), ctype)
