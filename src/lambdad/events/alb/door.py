"""The load balancer front door on the API port (by ``Host``), and on listeners' own
ports.

A request for ``<name>-<id>.<region>.elb.localhost`` comes here before any SigV4
handling. The door finds the balancer (remembered until the next control-plane
write), the listener (the one on the ``Host``'s port, else the one with the lowest
port; a listener's own port names it directly), the actions (``rules``), and for a
``forward`` the target group's function: it checks that the function's resource
policy lets ``elasticloadbalancing.amazonaws.com`` invoke it for the target group,
builds the ALB event (``events.http.alb``, multi-value headers as the group says),
invokes it through ``invoke/`` and answers by ALB's rules. It never raises.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable
from typing import Final, Protocol

from lambdad.clock import Clock
from lambdad.errors import AwsError
from lambdad.events.alb import names, redirects
from lambdad.events.alb.rules import actions_for, choose_group
from lambdad.events.alb.store import LB, TG, ElbStore
from lambdad.events.function_urls import Response, SyncInvoker
from lambdad.events.http import alb
from lambdad.events.http.request import HttpRequest, event_json, request_trace
from lambdad.events.http.response import HttpResponse
from lambdad.events.url_cache import UrlCache
from lambdad.invoke.sync import InvokeRequest
from lambdad.model.arn import cached_function_ref
from lambdad.model.http_status import with_reason
from lambdad.model.scope import Scope
from lambdad.store.base import Doc

log = logging.getLogger(__name__)


def _page(status: int, title: str) -> HttpResponse:
    heading = f"{status} {title}".rstrip()
    body = (
        f"<html>\r\n<head><title>{heading}</title></head>\r\n<body>\r\n"
        f"<center><h1>{heading}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    return HttpResponse(status, (("Content-Type", "text/html"),), body, reason=title or None)


NOT_FOUND: Final = _page(404, "Not Found")
UNAVAILABLE: Final = _page(503, "Service Temporarily Unavailable")
TOO_LARGE: Final = _page(413, "Request Entity Too Large")
SERVER_ERROR: Final = _page(500, "Internal Server Error")
BAD_REQUEST: Final = _page(400, "Bad Request")
# ELB's troubleshooting guide: "The client used the TRACE method, which is not supported
# by Application Load Balancers" (405), and "an X-Forwarded-For request header with too
# many IP addresses. The upper limit for IP addresses is 30" (463).
TRACE_REFUSED: Final = _page(405, "Method Not Allowed")
TOO_MANY_FORWARDS: Final = _page(463, "")
MOVED_PERMANENTLY: Final = _page(301, "Moved Permanently")
FOUND: Final = _page(302, "Found")
MAX_FORWARDED_ADDRESSES: Final = 30
# ELB's quotas for HTTP headers: a request line and a single header of 16 K, the whole
# request head 64 K; its troubleshooting guide answers a request past them (or one not
# HTTP at all) 400 Bad Request, the connection closed.
MAX_LINE_BYTES: Final = 16 * 1024
MAX_HEAD_BYTES: Final = 64 * 1024
HEAD_REFUSAL: Final = (
    b"HTTP/1.1 400 Bad Request\r\nServer: awselb/2.0\r\nContent-Type: text/html\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BAD_REQUEST.body), BAD_REQUEST.body)
)


class ServicePolicies(Protocol):
    def allows_service(
        self, owner: Scope, name: str, qualifier: str | None, service: str, source_arn: str
    ) -> bool: ...


class LoadBalancerDoor:
    def __init__(
        self,
        store: ElbStore,
        invoker: SyncInvoker,
        policies: ServicePolicies,
        cache: UrlCache,
        clock: Clock,
        *,
        port: int,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.draw = draw  # weighted forwards
        self.invoker = invoker
        self.policies = policies
        self.cache = cache
        self.clock = clock
        self.port = port
        self._found: dict[str, tuple[int, tuple[Scope, Doc] | None]] = {}
        self._ports: tuple[int, dict[int, tuple[Scope, Doc]]] = (-1, {})
        self._groups: dict[str, tuple[int, Doc | None]] = {}

    async def respond(
        self,
        target: tuple[str, str, int | None],
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
    ) -> Response:
        """The answer to one request for a balancer (``target``: DNS id, region and the
        port its ``Host`` names, or the listener's own port)."""
        dns, region, port = target
        try:
            answer = await self._answer(
                dns, region, port, method, path, query, headers, body, source_ip
            )
        except Exception:  # a bug must not cost the client more than ALB's 500
            log.exception("load balancer %s request failed", dns)
            answer = SERVER_ERROR
        if answer.integration_error is not None:
            log.info("load balancer %s: %s", dns, answer.integration_error)
        out = [(k.lower().encode(), v.encode("latin-1", "replace")) for k, v in answer.headers]
        out.append((b"server", b"awselb/2.0"))
        return with_reason(answer.status, answer.reason), out, answer.body

    async def respond_on_port(
        self,
        port: int,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str,
    ) -> Response:
        """The answer to a request on a listener's own port: for the balancer its
        ``Host`` names, else the one listening on that port."""
        host = next((v for k, v in headers if k == "host"), None)
        named = names.host_address(host)
        if named is not None:
            target = (named[0], named[1], port)
        else:
            found = self._on_port(port)
            if found is None:
                return 404, [(b"content-type", b"text/html")], NOT_FOUND.body
            target = (found[1]["DnsId"], found[0].region, port)
        return await self.respond(target, method, path, query, headers, body, source_ip=source_ip)

    def _on_port(self, port: int) -> tuple[Scope, Doc] | None:
        generation = self.store.generation
        if self._ports[0] != generation:
            ports: dict[int, tuple[Scope, Doc]] = {}
            for account, region, _, _, doc in self.store.store.find_children(
                LB, "Listening", "yes"
            ):
                for listener in doc["Listeners"].values():
                    ports.setdefault(int(listener["Port"]), (Scope(account, region), doc))
            self._ports = (generation, ports)
        return self._ports[1].get(port)

    async def _answer(
        self,
        dns: str,
        region: str,
        port: int | None,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> HttpResponse:
        found = self._find(dns)
        if found is None or found[0].region != region or not found[1]["Listeners"]:
            return NOT_FOUND
        refused = _refused(method, headers)
        if refused is not None:
            return refused
        scope, balancer = found
        listeners = sorted(balancer["Listeners"].values(), key=lambda li: li["Port"])
        listener = next((li for li in listeners if li["Port"] == port), listeners[0])
        host = next((v for k, v in headers if k == "host"), "")
        request = HttpRequest(
            method=method,
            raw_path=path.split("?", 1)[0] or "/",
            raw_query=query,
            headers=tuple(headers),
            body=body,
            source_ip=source_ip,
            time=self.clock.now(),
            request_id="",
            domain=host.split(":", 1)[0],
            port=listener["Port"],
        )
        rules = [
            r for r in balancer["Rules"].values() if r["ListenerArn"] == listener["ListenerArn"]
        ]
        actions = actions_for(request, host, rules, listener["DefaultActions"])
        fixed = next((a for a in actions if a.get("Type") == "fixed-response"), None)
        if fixed is not None:
            return _fixed(fixed.get("FixedResponseConfig") or {})
        moved = next((a for a in actions if a.get("Type") == "redirect"), None)
        if moved is not None:
            return _redirect(moved["RedirectConfig"], request)
        group = choose_group(actions, self.draw())
        if group is None:
            return SERVER_ERROR
        if any(name == "upgrade" for name, _ in headers):
            # Lambda targets: "WebSockets are not supported. Upgrade requests are
            # rejected with an HTTP 400 code."
            return BAD_REQUEST
        if len(body) > alb.MAX_REQUEST_BODY_BYTES:
            return TOO_LARGE
        return await self._forward(scope, group, request)

    async def _forward(self, scope: Scope, group_arn: str, request: HttpRequest) -> HttpResponse:
        group = self._group(scope, group_arn)
        if group is None or not group["Targets"]:
            return UNAVAILABLE
        ref = cached_function_ref(group["Targets"][0])
        allowed = self.cache.get(
            ("elb", scope, ref.name, ref.qualifier, group_arn),
            lambda: self.policies.allows_service(
                scope, ref.name, ref.qualifier, names.SERVICE_PRINCIPAL, group_arn
            ),
        )
        if not allowed:
            return alb.bad_gateway(f"no permission to invoke {group['Targets'][0]}")
        multi = group["Attributes"].get(names.MULTI_VALUE) == "true"
        event = alb.alb_event(request, target_group_arn=group_arn, multi_value_headers=multi)
        try:
            result = await self.invoker.invoke(
                InvokeRequest(
                    scope=scope,
                    function_name=ref.name,
                    qualifier=ref.qualifier,
                    payload=event_json(event),
                    trace_id=request_trace(request),
                    payload_is_json=True,
                )
            )
        except AwsError as error:
            return alb.bad_gateway(f"invoking {ref.name} failed: {error}")
        return alb.alb_response(
            result.payload, multi_value_headers=multi, function_error=result.function_error
        )

    def _group(self, scope: Scope, arn: str) -> Doc | None:
        """A target group, remembered until the next control-plane write."""
        generation = self.store.generation
        cached = self._groups.get(arn)
        if cached is None or cached[0] != generation:
            try:
                found: Doc | None = self.store.by_arn(TG, scope, arn)
            except AwsError:
                found = None
            if len(self._groups) >= 10_000:
                self._groups.clear()
            cached = self._groups[arn] = (generation, found)
        return cached[1]

    def _find(self, dns: str) -> tuple[Scope, Doc] | None:
        generation = self.store.generation
        cached = self._found.get(dns)
        if cached is not None and cached[0] == generation:
            return cached[1]
        found = self.store.find_balancer(dns)
        if len(self._found) >= 10_000:
            self._found.clear()
        self._found[dns] = (generation, found)
        return found


def _refused(method: str, headers: list[tuple[str, str]]) -> HttpResponse | None:
    """The balancer's own refusal of a request, before any rule."""
    if method == "TRACE":
        return TRACE_REFUSED
    forwarded = [v for k, v in headers if k == "x-forwarded-for"]
    if forwarded and sum(v.count(",") + 1 for v in forwarded) > MAX_FORWARDED_ADDRESSES:
        return TOO_MANY_FORWARDS
    return None


def _redirect(config: Doc, request: HttpRequest) -> HttpResponse:
    """ELB's answer to a redirect: its status page, and where to go."""
    status = redirects.status_of(config)
    page = MOVED_PERMANENTLY if status == 301 else FOUND
    where = redirects.location(config, host=request.domain, port=request.port,
                               path=request.raw_path, query=request.raw_query)  # fmt: skip
    if where is None:
        return BAD_REQUEST  # a Host header that is no host name
    return dataclasses.replace(page, headers=(*page.headers, ("Location", where)))


def _fixed(config: Doc) -> HttpResponse:
    status = int(config.get("StatusCode", 200))
    content_type = config.get("ContentType") or "text/plain; charset=utf-8"
    body = str(config.get("MessageBody") or "").encode()
    return HttpResponse(status, (("Content-Type", content_type),), body)
