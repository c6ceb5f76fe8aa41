"""``lambdad async-stats``: asynchronous invocation counters and queue state, per
function, as the running server reports them.

The server answers a SigV4-signed ``GET /_lambdad/async-stats`` on its API port with
the signer's functions in the signed region; the endpoint and credentials are found
as for the other client commands (``cli.target``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from lambdad.cli import own_api
from lambdad.cli.target import Target, find_target

PATH = "/_lambdad/async-stats"
COUNTERS = ("received", "processed", "retried", "throttled", "dropped")


def fetch(target: Target) -> list[dict[str, Any]]:
    """The server's rows (one per function; ``as_dict`` of ``FunctionStatistics``)."""
    rows: list[dict[str, Any]] = json.loads(own_api.request(target, "GET", PATH))["Functions"]
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as the aligned table ``async-stats`` prints without ``--json``."""
    head = ("FUNCTION", *(c.upper() for c in COUNTERS), "QUEUED", "OLDEST_S", "DELIVERIES")
    cells: list[tuple[str, ...]] = [head]
    for r in rows:
        oldest = "-" if r.get("oldest_age") is None else f"{r['oldest_age']:.1f}"
        numbers = [str(r.get(c, 0)) for c in COUNTERS]
        name = f"{r['account']}/{r['region']}/{r['function']}"
        cells.append(
            (name, *numbers, str(r.get("queued", 0)), oldest, str(r.get("deliveries_pending", 0)))
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(head))]
    out = []
    for line in cells:
        numbers = [v.rjust(w) for v, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join([line[0].ljust(widths[0]), *numbers]))
    return out


@click.command("async-stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per function.")
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def async_stats(as_json: bool, endpoint_url: str | None, data_dir: str | None) -> None:
    """Asynchronous invocation counters and queue state, per function of the account
    and region, from the running server.

    received = processed + dropped + queued, give or take re-runs after a crash.
    """
    rows = fetch(find_target("lambda", endpoint_url, data_dir, os.environ))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    for line in table(rows):
        click.echo(line)
