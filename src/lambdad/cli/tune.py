"""``lambdad tune NAME --payload JSON|@file [--memory 128,256,...] [--invocations N]
[--parallel P] [--strategy cost|speed|balanced] [--png PATH] [--json]``: power tuning.

Runs function NAME at each memory size in scratch versions (``cli.tune_scratch``),
reads each invocation's REPORT line (``cli.tune_invoke``), prices the sizes with the
server's own price table (``GET /_lambdad/cost``'s ``prices``, through
``api.price_table``: the formula of ``lambdad cost``, before the free tier), and
prints per size the median and p99 duration, the billed duration, the cost per
invocation and the errors; then the cheapest, the fastest and the balanced size, and
the curve (terminal; ``--png`` also as an image). ``--json`` prints one document.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lambdad.cli import cost as cost_cli
from lambdad.cli.client import read_payload
from lambdad.cli.target import Target, call, find_target
from lambdad.cli.tune_core import (
    DEFAULT_SIZES,
    STRATEGIES,
    PriceFn,
    SizeResult,
    Strategy,
    Verdict,
    parse_sizes,
    summarise,
    verdict,
)


def price_for(target: Target, name: str, conf: dict[str, Any]) -> Callable[[int], PriceFn]:
    """Per memory size, (requests, billed ms) -> USD at the server's prices."""
    from lambdad.api.price_table import on_demand_cost_usd, prices_from_doc

    prices = prices_from_doc(cost_cli.fetch(target, None, name).get("prices", {}))
    architecture = (conf.get("Architectures") or ["x86_64"])[0]
    storage = int(conf.get("EphemeralStorage", {}).get("Size", 512))

    def at(memory_mb: int) -> PriceFn:
        def price(requests: int, billed_ms: int) -> float:
            return on_demand_cost_usd(
                prices,
                architecture=architecture,
                memory_mb=memory_mb,
                storage_mb=storage,
                requests=requests,
                billed_ms=billed_ms,
            )

        return price

    return at


def tune_function(
    target: Target, name: str, payload: bytes, sizes: tuple[int, ...], count: int, parallel: int
) -> tuple[dict[str, Any], list[SizeResult]]:
    from lambdad.cli.tune_invoke import run_size
    from lambdad.cli.tune_scratch import scratch_versions

    lam = target.client("lambda")
    conf: dict[str, Any] = call(target, lambda: lam.get_function_configuration(FunctionName=name))
    price_at = price_for(target, name, conf)

    def say(line: str) -> None:
        click.echo(line, err=True)

    results: list[SizeResult] = []

    def run() -> None:
        with scratch_versions(lam, name, sizes, say) as scratches:
            for s in scratches:
                say(f"{s.memory_mb} MB: {count} invocations, {parallel} at a time")
                samples = run_size(lam, name, s.alias, payload, count, parallel)
                results.append(summarise(s.memory_mb, samples, price_at(s.memory_mb)))

    call(target, run)
    return conf, results


def document(
    conf: dict[str, Any], results: list[SizeResult], chosen: Verdict, strategy: Strategy
) -> dict[str, Any]:
    return {
        "function": conf["FunctionName"],
        "architecture": (conf.get("Architectures") or ["x86_64"])[0],
        "strategy": strategy,
        "sizes": [r.as_dict() for r in results],
        "cheapest": chosen.cheapest,
        "fastest": chosen.fastest,
        "balanced": chosen.balanced,
        "recommended": chosen.recommended,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(doc: dict[str, Any], results: list[SizeResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    from lambdad.cli.tune_chart import curve

    console = Console(width=None if sys.stdout.isatty() else 120)
    table = Table(title=f"power tuning of {doc['function']} ({doc['architecture']})")
    for column in ("Memory", "Invocations", "Errors", "Median ms", "p99 ms", "Billed ms",
                   "Max used", "USD/invocation", "USD/1M"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r.memory_mb} MB",
            str(r.invocations),
            str(r.errors),
            _ms(r.median_ms),
            _ms(r.p99_ms),
            _ms(r.billed_median_ms),
            "-" if r.max_memory_used_mb is None else f"{r.max_memory_used_mb} MB",
            "-" if r.cost_usd is None else f"{r.cost_usd:.10f}",
            "-" if r.cost_usd is None else f"{r.cost_usd * 1e6:.4f}",
        )
    console.print(table)
    for label in ("cheapest", "fastest", "balanced"):
        size = doc[label]
        console.print(f"{label}: {'none (every size failed)' if size is None else f'{size} MB'}")
    chosen = "none" if doc["recommended"] is None else f"{doc['recommended']} MB"
    console.print(f"recommended ({doc['strategy']}): {chosen}")
    for line in curve(results):
        console.print(line, highlight=False, markup=False)


def _interrupt_on_signals() -> None:
    """SIGTERM, and SIGINT even when this process inherited it ignored (a job started
    in the background), stop the run the way Ctrl-C does: through the clean-up."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)


def _json_payload(value: str) -> bytes:
    body = read_payload(value)
    try:
        json.loads(body or b"null")
    except ValueError as exc:
        raise click.BadParameter(f"not JSON ({exc})", param_hint="--payload") from None
    return body


def _warn_of_leftovers(target: Target, name: str) -> None:
    from lambdad.cli.tune_scratch import leftovers

    lam = target.client("lambda")
    found = call(target, lambda: leftovers(lam, name))
    if found:
        aliases = ", ".join(a for a, _ in found)
        click.echo(
            f"note: scratch aliases of an earlier run that could not clean up remain "
            f"({aliases}); `lambdad tune {name} --clean` removes them",
            err=True,
        )


def _clean(target: Target, name: str) -> None:
    from lambdad.cli.tune_scratch import remove_leftovers

    lam = target.client("lambda")
    count = call(target, lambda: remove_leftovers(lam, name, lambda s: click.echo(s, err=True)))
    click.echo(f"{count} scratch alias(es) of {name} removed")


@click.command("tune")
@click.argument("name")
@click.option("--payload", "-p", default=None, help="Event: JSON text, @FILE, or @- for stdin.")
@click.option(
    "--memory",
    default=",".join(map(str, DEFAULT_SIZES)),
    show_default=True,
    help="Memory sizes to try, in MB.",
)
@click.option(
    "--invocations",
    "-n",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Invocations per size (after one warm-up).",
)
@click.option(
    "--parallel",
    default=1,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Invocations at a time.",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="cost",
    show_default=True,
    help="What the recommended size optimises.",
)
@click.option(
    "--png",
    "png_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also draw the curve into this PNG file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option(
    "--clean",
    is_flag=True,
    help="Only remove the scratch aliases and versions a killed run left, then exit.",
)
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def tune(
    name: str,
    payload: str | None,
    memory: str,
    invocations: int,
    parallel: int,
    strategy: Strategy,
    png_path: str | None,
    as_json: bool,
    clean: bool,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Power-tune function NAME: run it at each memory size (scratch versions and
    aliases, removed afterwards; $LATEST's memory size is restored) and report the
    duration and cost per size, the cheapest, the fastest and the balanced size."""
    target = find_target("lambda", endpoint_url, data_dir, os.environ)
    if clean:
        _clean(target, name)
        return
    if payload is None:
        raise click.UsageError("Missing option '--payload' (the event to tune with).")
    try:
        sizes = parse_sizes(memory)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory") from None
    body = _json_payload(payload)
    _warn_of_leftovers(target, name)
    _interrupt_on_signals()
    try:
        conf, results = tune_function(target, name, body, sizes, invocations, parallel)
    except KeyboardInterrupt:
        click.echo("interrupted: scratch versions and aliases removed", err=True)
        sys.exit(130)
    doc = document(conf, results, verdict(results, strategy), strategy)
    if png_path:
        from lambdad.cli.tune_png import chart

        Path(png_path).write_bytes(chart(results))
        doc["png"] = png_path
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        print_report(doc, results)
