"""A function's overview: its configuration, versions, aliases, triggers and resource
policy, as ``GetFunction``, ``ListVersionsByFunction``, ``ListAliases`` and
``GetPolicy`` answer them for the signed-in account and region."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lambdad.console import triggers
from lambdad.console.layout import definitions, e, function_tabs, page, table
from lambdad.console.view import View
from lambdad.console.web import Response, html
from lambdad.errors import AwsError


async def _policy(view: View, name: str) -> str:
    try:
        out = await view.aws.lambda_(view.who, view.host, "GetPolicy", FunctionName=name)
    except AwsError:  # ResourceNotFoundException: no statement yet
        return '<p class="empty">No resource-based policy: only this account may invoke it.</p>'
    try:
        pretty = json.dumps(json.loads(out.get("Policy") or "{}"), indent=2)
    except ValueError:
        pretty = str(out.get("Policy"))
    return f'<pre class="code">{e(pretty)}</pre>'


def _configuration(cfg: dict[str, Any], concurrency: dict[str, Any]) -> str:
    env = (cfg.get("Environment") or {}).get("Variables") or {}
    layers = ", ".join(e(layer.get("Arn", "")) for layer in cfg.get("Layers") or []) or "—"
    reserved = concurrency.get("ReservedConcurrentExecutions")
    pairs = [
        ("ARN", f"<code>{e(cfg.get('FunctionArn'))}</code>"),
        ("Runtime", e(cfg.get("Runtime") or cfg.get("PackageType"))),
        ("Handler", e(cfg.get("Handler") or "—")),
        ("Architecture", e(", ".join(cfg.get("Architectures") or ["x86_64"]))),
        ("Memory", f"{e(cfg.get('MemorySize'))} MB"),
        ("Ephemeral storage", f"{e((cfg.get('EphemeralStorage') or {}).get('Size', 512))} MB"),
        ("Timeout", f"{e(cfg.get('Timeout'))} s"),
        ("Role", f"<code>{e(cfg.get('Role'))}</code>"),
        ("State", e(f"{cfg.get('State', '')} · last update {cfg.get('LastUpdateStatus', '')}")),
        ("Last modified", e(cfg.get("LastModified"))),
        ("Code size", f"{e(cfg.get('CodeSize'))} bytes"),
        ("Code SHA-256", f"<code>{e(cfg.get('CodeSha256'))}</code>"),
        ("Layers", layers),
        ("Reserved concurrency", e(reserved if reserved is not None else "unreserved")),
        ("Environment variables", e(", ".join(sorted(env)) or "—")),
        ("Description", e(cfg.get("Description") or "—")),
    ]  # fmt: skip
    return definitions(pairs)


def _versions(versions: list[dict[str, Any]]) -> str:
    rows = [
        [e(v.get("Version")), e(v.get("Description") or ""), e(v.get("LastModified", ""))]
        for v in versions
    ]
    return table(("Version", "Description", "Last modified"), rows, "No versions.")


def _aliases(aliases: list[dict[str, Any]]) -> str:
    rows = []
    for a in aliases:
        weights = ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        split = ", ".join(f"{e(k)}: {float(w) * 100:.0f}%" for k, w in weights.items())
        rows.append([e(a.get("Name")), e(a.get("FunctionVersion")), split or "—"])
    return table(("Alias", "Version", "Weighted routing"), rows, "No aliases.")


def _triggers(found: list[triggers.Trigger]) -> str:
    rows = []
    for t in found:
        name = f'<a href="{e(t.link)}">{e(t.name)}</a>' if t.link.startswith("http") else e(t.name)
        rows.append([e(t.kind), name, e(t.detail)])
    return table(("Trigger", "Source", "Detail"), rows, "No triggers: it runs when invoked.")


async def render(view: View, name: str) -> Response:
    got = await view.aws.lambda_(view.who, view.host, "GetFunction", FunctionName=name)
    cfg: dict[str, Any] = got.get("Configuration") or {}
    versions, aliases, policy, found = await asyncio.gather(
        view.aws.lambda_(view.who, view.host, "ListVersionsByFunction", FunctionName=name),
        view.aws.lambda_(view.who, view.host, "ListAliases", FunctionName=name),
        _policy(view, name),
        triggers.gather(view, name, cfg.get("FunctionArn", "")),
    )
    body = (
        function_tabs(name, "")
        + '<div class="grid2"><section class="card"><h2>Configuration</h2>'
        + _configuration(cfg, got.get("Concurrency") or {})
        + '</section><div><section class="card"><h2>Triggers</h2>'
        + _triggers(found)
        + '</section><section class="card"><h2>Versions</h2>'
        + _versions(versions.get("Versions") or [])
        + '</section><section class="card"><h2>Aliases</h2>'
        + _aliases(aliases.get("Aliases") or [])
        + '</section></div></div><section class="card"><h2>Resource-based policy</h2>'
        + policy
        + "</section>"
    )
    return html(page(name, view.session, body, nav="functions"))
