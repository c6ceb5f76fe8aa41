"""Where a function's AWS SDK calls go: the ``AWS_ENDPOINT_URL_<SERVICE>`` variables of
its environments, and the host ports an isolated network must forward for them.

By default every environment gets lambdad itself as its Lambda, CloudWatch Logs, STS
and CodeDeploy endpoint (the names the SDKs read: ``AWS_ENDPOINT_URL_LAMBDA``,
``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``, ``AWS_ENDPOINT_URL_STS``,
``AWS_ENDPOINT_URL_CODEDEPLOY``). The operator maps
other services once (``LAMBDAD_FUNCTION_ENDPOINTS``: ``s3=http://127.0.0.1:4566,
dynamodb=http://127.0.0.1:8000``, names as in ``AWS_ENDPOINT_URL_<NAME>`` or as
service ids, any case; ``host`` passes the server's own ``AWS_ENDPOINT_URL_*``
through), and may override the defaults the same way.

An endpoint on the host's loopback is reached from an environment with a network
namespace of its own through a ``Forward``: lambdad listens on the same loopback
address and port *inside* the namespace and relays each connection to that host port,
and to nothing else (the NAT keeps the host's loopback unreachable). The Runtime API
holds port 9001 inside; an endpoint on that port is moved to another port inside,
and its URL says so. Pure: settings in, variables and forwards out.

An environment whose role has upstream credentials (model/upstream.py) has its other
mapped endpoints relayed too (``with_upstream``): one elsewhere than the host's loopback
(a real AWS region's, a MinIO on another machine) is reached through a port inside
(``UPSTREAM_PORTS`` on), whose relay speaks HTTP or HTTPS to it and signs the requests
again; its variable names that port.

A relay connects to the host port *from* an address of its own in 127.77.0.0/16, one per
account (``relay_source``): whatever listens there (lambdad's API port among them) can
tell a function's connection from the operator's own tools on 127.0.0.1 — lambdad
answers no unauthenticated operator surface (``/metrics``) to it, and counts its
connections per tenant, apart from the operator's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

VARIABLE_PREFIX = "AWS_ENDPOINT_URL_"
# What lambdad answers itself, by the variable suffix the SDKs derive from its service id.
# CodeDeploy: lifecycle hook functions report their result to lambdad (deploy/traffic_shift.py).
OWN_SERVICES = ("LAMBDA", "CLOUDWATCH_LOGS", "STS", "CODEDEPLOY")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
RUNTIME_API_PORT = 9001
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
RELAY_NETWORK = "127.77."
# Where inside the relays of endpoints elsewhere than the host's loopback listen.
UPSTREAM_PORTS = 9100
ANY_SERVICE = "*"


def relay_source(account: str) -> str:
    """The loopback address an account's relays connect from (127.77.x.y)."""
    digest = hashlib.sha256(account.encode()).digest()
    return f"{RELAY_NETWORK}{digest[0]}.{digest[1] or 1}"


def is_relayed(client: str | None) -> bool:
    """Whether a connection's peer address is a function's relay."""
    return client is not None and client.startswith(RELAY_NETWORK)


@dataclass(frozen=True, slots=True)
class Forward:
    """Connections to 127.0.0.1:``port`` inside go to ``host``:``host_port`` outside
    (``udp``: datagrams, not connections: the X-Ray daemon's port; ``signed``: its
    relay signs requests again with the role's upstream credentials,
    environments/upstream_proxy.py, over HTTPS with ``tls``)."""

    port: int
    host: str
    host_port: int
    udp: bool = False
    tls: bool = False
    signed: bool = False


@dataclass(frozen=True, slots=True)
class FunctionEndpoints:
    variables: Mapping[str, str]
    forwards: tuple[Forward, ...]


def with_xray_daemon(planned: FunctionEndpoints, port: int) -> FunctionEndpoints:
    """``planned`` and the X-Ray daemon at 127.0.0.1:``port`` (UDP), in the variables
    AWS sets for it (the SDKs read ``AWS_XRAY_DAEMON_ADDRESS``; ``_AWS_XRAY_DAEMON_*``
    are its parts; a missing context logs an error instead of raising)."""
    variables = {
        **planned.variables,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    forward = Forward(port, "127.0.0.1", port, udp=True)
    return FunctionEndpoints(variables, (*planned.forwards, forward))


def with_upstream(planned: FunctionEndpoints, services: Collection[str]) -> FunctionEndpoints:
    """``planned`` for an environment whose role has upstream credentials for
    ``services`` (the names requests are signed for, ``*`` for any): the relays of their
    endpoints sign requests again (``Forward.signed``; lambdad's own never do), and an
    endpoint off the host's loopback is relayed from a port inside as well (over HTTPS
    where its URL says so). A service is matched to its variable by name (``s3`` ->
    ``AWS_ENDPOINT_URL_S3``)."""
    wanted = {variable_name(s) for s in services if s != ANY_SERVICE}
    own = {VARIABLE_PREFIX + s for s in OWN_SERVICES}
    taken = {RUNTIME_API_PORT} | {f.port for f in planned.forwards}
    variables = dict(planned.variables)
    forwards = {f.port: f for f in planned.forwards if not f.udp}
    added: list[Forward] = []
    for name, url in planned.variables.items():
        parts = urlsplit(url)
        if (
            not name.startswith(VARIABLE_PREFIX)
            or name in own
            or (ANY_SERVICE not in services and name not in wanted)
            or parts.hostname is None
            or parts.scheme not in ("http", "https")
        ):
            continue
        relayed = forwards.get(parts.port or 0) if parts.hostname in LOOPBACK_HOSTS else None
        if relayed is not None:  # on the host's loopback: relayed already
            forwards[relayed.port] = replace(relayed, signed=True)
            continue
        if parts.hostname in LOOPBACK_HOSTS:
            continue
        inside = UPSTREAM_PORTS
        while inside in taken:
            inside += 1
        taken.add(inside)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        added.append(Forward(inside, parts.hostname, port, tls=tls, signed=True))
        variables[name] = urlunsplit(parts._replace(scheme="http", netloc=f"127.0.0.1:{inside}"))
    datagrams = tuple(f for f in planned.forwards if f.udp)
    return FunctionEndpoints(variables, (*forwards.values(), *added, *datagrams))


def variable_name(service: str) -> str:
    """``s3`` -> ``AWS_ENDPOINT_URL_S3``; ``cloudwatch-logs`` -> ``..._CLOUDWATCH_LOGS``."""
    suffix = service.strip().upper().replace("-", "_").replace(" ", "_")
    return suffix if suffix.startswith(VARIABLE_PREFIX) else VARIABLE_PREFIX + suffix


def parse(raw: str, host_env: Mapping[str, str]) -> dict[str, str]:
    """The operator's mapping (``LAMBDAD_FUNCTION_ENDPOINTS``) as variable -> URL;
    ``host`` (alone or among the entries) takes the server's ``AWS_ENDPOINT_URL_*``
    (``host_env``) first. ValueError names an entry that is not ``name=http(s)://...``."""
    out: dict[str, str] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        if entry == "host":
            out.update({k: v for k, v in host_env.items() if k.startswith(VARIABLE_PREFIX)})
            continue
        name, found, url = entry.partition("=")
        parts = urlsplit(url.strip())
        if not found or not name.strip() or parts.scheme not in ("http", "https"):
            raise ValueError(f"function endpoint {entry!r} must be SERVICE=http(s)://HOST[:PORT]")
        out[variable_name(name)] = url.strip()
    out.pop(VARIABLE_PREFIX.rstrip("_"), None)  # never a bare AWS_ENDPOINT_URL
    return out


def plan(server_host: str, server_port: int, mapped: Mapping[str, str]) -> FunctionEndpoints:
    """The variables and forwards every environment gets: lambdad's own services at the
    server's address, then the operator's ``mapped`` ones (which win)."""
    host = "127.0.0.1" if server_host in _WILDCARD_HOSTS else server_host
    own = f"http://{host}:{server_port}"
    urls = {f"{VARIABLE_PREFIX}{s}": own for s in OWN_SERVICES}
    urls.update(mapped)
    forwards: dict[tuple[str, int], Forward] = {}
    variables = {}
    # Inside ports already spoken for: the Runtime API's, and every host port forwarded
    # as itself.
    taken = {RUNTIME_API_PORT} | {
        p.port for p in map(urlsplit, urls.values()) if p.hostname in LOOPBACK_HOSTS and p.port
    }
    for name, url in urls.items():
        parts = urlsplit(url)
        target = parts.hostname or ""
        if target not in LOOPBACK_HOSTS or parts.port is None:
            variables[name] = url
            continue
        key = ("127.0.0.1", parts.port)
        forward = forwards.get(key)
        if forward is None:
            inside = parts.port
            if inside == RUNTIME_API_PORT:
                while inside in taken:
                    inside = inside + 1 if inside < 65535 else 1024
                taken.add(inside)
            forward = forwards[key] = Forward(inside, "127.0.0.1", parts.port)
        netloc = f"127.0.0.1:{forward.port}"
        variables[name] = urlunsplit(parts._replace(netloc=netloc))
    return FunctionEndpoints(variables, tuple(forwards.values()))
