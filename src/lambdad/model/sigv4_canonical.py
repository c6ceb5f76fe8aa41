"""SigV4's canonical request pieces, as the AWS SDKs build them.

Shared by the API's own signature check (api/sigv4*.py) and the upstream relay that
checks a function's signature and signs its request again (environments/upstream_sigv4.py),
so the two canonicalise a request alike: the query decoded and re-encoded in order,
the URI with botocore's normalisation, the signed headers' values trimmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote_plus


def split_query(query_string: str) -> list[tuple[str, str]]:
    # Decoded so that any equivalent encoding re-encodes to the same canonical form;
    # a bare '+' is a space, as in form encoding and as the Go SDK reads it.
    if not query_string:
        return []
    pairs = []
    for item in query_string.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    if not params:
        return ""
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_uri(raw_path: str) -> str:
    # SDKs sign the already-encoded path encoded once more (every service but S3),
    # after dropping dot segments and empty segments, as botocore's normalisation does.
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if segments and raw_path.endswith("/"):
        path += "/"
    return quote(path, safe="/~")


def canonical_headers(names: Iterable[str], by_name: Mapping[str, Sequence[str]]) -> str:
    # ``by_name``: lower-case name -> its values as sent. A signed header the request
    # lacks canonicalises as empty (and so fails the comparison).
    out = []
    for name in names:
        values = by_name.get(name, ())
        if len(values) == 1:
            out.append(f"{name}:{' '.join(values[0].split())}\n")
        else:
            out.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(out)
