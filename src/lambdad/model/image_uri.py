"""A container image's ``ImageUri``, parsed and mapped to the operator's registry.

AWS takes Amazon ECR URIs only: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>``
with ``:<tag>`` or ``@sha256:<digest>``. lambdad has no ECR of its own: the operator
names one OCI/Docker registry (``LAMBDAD_IMAGE_REGISTRY``, e.g.
``http://127.0.0.1:5000``), the way other AWS services are reached at operator-set
endpoints, and an ECR URI of account A maps to the repository ``A/<repository>`` there:
each account has its own part of the registry, as each has its own ECR registry on AWS.

An ECR URI must name the caller's own account and region (as Lambda requires: the
repository lives beside the function). A plain ``host[:port]/<repository>`` is taken
only when ``host[:port]`` is the operator's registry itself and only for accounts the
operator trusts with the server's own position (``uses_server_identity``): it reaches
any repository there, other accounts' too. No URI ever makes the server contact a host
the tenant chose.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lambdad.errors import AccessDeniedException, InvalidParameterValueException

_ECR_HOST = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")
MAX_REPOSITORY = 256
DEFAULT_TAG = "latest"


@dataclass(frozen=True, slots=True)
class Registry:
    """The operator's registry: where images are pulled from."""

    host: str  # host[:port], as the registry's references name it
    tls: bool  # https (certificates verified) or plain http


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image as the function names it and where lambdad pulls it from."""

    uri: str  # as given
    repository: str  # the repository on the operator's registry
    tag: str | None
    digest: str | None  # sha256:<hex>, when the URI pins one
    registry: Registry
    # The part of the URI before the tag or digest (ResolvedImageUri is built on it).
    name: str

    @property
    def reference(self) -> str:
        """``host/repository:tag`` or ``@digest``, as skopeo's ``docker://`` takes it."""
        at = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.registry.host}/{self.repository}{at}"

    def pinned(self, digest: str) -> str:
        """The operator registry's reference of the image by ``digest``."""
        return f"{self.registry.host}/{self.repository}@{digest}"

    def resolved_uri(self, digest: str) -> str:
        """ResolvedImageUri: the URI's repository at the digest it resolved to."""
        return f"{self.name}@{digest}"


def parse_registry(setting: str) -> Registry | None:
    """``LAMBDAD_IMAGE_REGISTRY``: ``http://host:port``, ``https://host[:port]`` or a bare
    ``host[:port]`` (https). None when unset; ValueError when malformed."""
    setting = setting.strip()
    if not setting:
        return None
    if "://" not in setting:
        setting = f"https://{setting}"
    parts = urlsplit(setting)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"image registry must be http(s)://host[:port], not {setting!r}")
    if not _HOST.fullmatch(parts.netloc) or "@" in parts.netloc:
        raise ValueError(f"image registry must be http(s)://host[:port], not {setting!r}")
    return Registry(parts.netloc.lower(), parts.scheme == "https")


def invalid(uri: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Source image {uri} is not valid. Provide a valid source image."
    )


def parse_image_uri(
    uri: str,
    *,
    account: str,
    region: str,
    registry: Registry | None,
    trusted: bool,
) -> ImageRef:
    """``uri`` for a function of (``account``, ``region``), mapped to ``registry``.

    ``trusted``: the account may name the operator's registry directly."""
    if registry is None:
        raise InvalidParameterValueException(
            "lambdad has no container image registry configured: the operator sets "
            "LAMBDAD_IMAGE_REGISTRY (e.g. http://127.0.0.1:5000) to run container images."
        )
    host, sep, rest = uri.partition("/")
    if not sep or not rest:
        raise invalid(uri)
    name, tag, digest = _split_reference(uri, rest)
    if len(name) > MAX_REPOSITORY or not _REPOSITORY.fullmatch(name):
        raise invalid(uri)
    ecr = _ECR_HOST.fullmatch(host)
    if ecr is not None:
        if ecr.group(2) != region:
            raise invalid(uri)
        if ecr.group(1) != account:
            # Another account's repository: on AWS its policy would have to allow it;
            # lambdad's registry has no such policies, so it never does.
            raise AccessDeniedException(
                "Lambda does not have permission to access the ECR image. Check the ECR "
                "permissions."
            )
        repository = f"{account}/{name}"
    elif host.lower() == registry.host and trusted:
        repository = name
    else:
        raise invalid(uri)
    return ImageRef(uri, repository, tag, digest, registry, f"{host}/{name}")


def _split_reference(uri: str, rest: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of what follows the host."""
    if "@" in rest:
        name, _, digest = rest.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise invalid(uri)
        return name, None, digest
    name, colon, tag = rest.rpartition(":")
    if not colon or "/" in tag:
        return rest, DEFAULT_TAG, None
    if not _TAG.fullmatch(tag):
        raise invalid(uri)
    return name, tag, None
