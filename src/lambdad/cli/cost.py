"""``lambdad cost [--month YYYY-MM] [--function F] [--json]``: a month's Lambda bill.

Asks the running server (``GET /_lambdad/cost``, SigV4-signed for ``monitoring``) for
the signer's usage in the signed region, priced with the server's price table (AWS's
public prices unless the operator set others) with the month's free tier shared out
over the functions. ``--json`` prints one object per function: ``requests``,
``gb_seconds``, ``cost_usd``, ``free_tier`` (what of it each function used) and more.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

import click

from lambdad.cli import own_api
from lambdad.cli.target import Target, find_target

PATH = "/_lambdad/cost"


def fetch(target: Target, month: str | None, function: str | None) -> dict[str, Any]:
    query = urlencode({k: v for k, v in (("month", month), ("function", function)) if v})
    path = PATH + (f"?{query}" if query else "")
    doc: dict[str, Any] = json.loads(own_api.request(target, "GET", path, service="monitoring"))
    return doc


def table(doc: dict[str, Any]) -> list[str]:
    head = ("FUNCTION", "REQUESTS", "GB-SECONDS", "FREE REQ", "FREE GB-S", "COST USD")
    cells = [head]
    for f in doc["functions"]:
        free = f["free_tier"]
        cells.append(
            (
                f["function"],
                str(f["requests"]),
                f"{f['gb_seconds']:.3f}",
                f"{free['requests']:.0f}",
                f"{free['gb_seconds']:.3f}",
                f"{f['cost_usd']:.6f}",
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    out = [f"{doc['month']}  account {doc['account']}  {doc['region']}"]
    for row in cells:
        out.append(
            "  ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
        )
    provisioned = [f for f in doc["functions"] if f.get("provisioned_gb_seconds")]
    for f in provisioned:
        out.append(
            f"  {f['function']}: provisioned concurrency {f['provisioned_gb_seconds']:.3f} "
            f"GB-s configured, {f['provisioned_duration_gb_seconds']:.3f} GB-s run on it"
        )
    out.append(f"total: ${doc['total_usd']:.6f} (after the free tier)")
    return out


def version_table(doc: dict[str, Any]) -> list[str]:
    head = ("FUNCTION", "VERSION", "ARCH", "MEMORY", "REQUESTS", "GB-SECONDS", "GROSS USD")
    cells = [head]
    for v in doc["versions"]:
        cells.append(
            (
                v["function"],
                v["version"],
                v["architecture"],
                f"{v['memory_mb']} MB",
                str(v["requests"]),
                f"{v['gb_seconds']:.3f}",
                f"{v['cost_before_free_tier_usd']:.6f}",
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


@click.command("cost")
@click.option("--month", default=None, help="YYYY-MM (UTC); this month by default.")
@click.option("--function", "function", default=None, help="One function's row only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per function.")
@click.option(
    "--versions", is_flag=True, help="One row per version and architecture (before the free tier)."
)
@click.option("--endpoint-url", default=None, help="lambdad's URL [AWS_ENDPOINT_URL...].")
@click.option("--data-dir", default=None, help="Where to find a credential [LAMBDAD_DATA_DIR].")
def cost(
    month: str | None,
    function: str | None,
    as_json: bool,
    versions: bool,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """A month's bill per function of the account and region: requests, GB-seconds
    (billed duration x memory), ephemeral storage over 512 MB, by architecture, with
    the monthly free tier applied."""
    doc = fetch(find_target("lambda", endpoint_url, data_dir, os.environ), month, function)
    rows = doc["versions"] if versions else doc["functions"]
    if function and not rows:  # a typo, or a function not invoked that month
        click.echo(f"no invocations of {function} in {doc['month']}", err=True)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    for line in version_table(doc) if versions else table(doc):
        click.echo(line)
