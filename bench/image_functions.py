"""Container-image functions against .zip functions running the same code, in one run.

Starts an OCI registry (Debian's docker-registry) and one ``lambdad serve`` mapped to
it, pushes the e2e tests' busybox image (a ``bootstrap`` shell script speaking the
Runtime API), and takes turns between an image function and a ``provided.al2023``
.zip function with the same script (the same-run baseline):

- CreateFunction: the image's first (resolve, pull and unpack) and later ones (the tag
  resolved again; the digest already unpacked), and the .zip's;
- cold starts (a fresh function each time): client-observed Invoke latency and the
  REPORT line's Init Duration, median and p99;
- warm invokes of one function of each.

    python bench/image_functions.py [--quick] [--n N] [--json PATH]

Needs root, bubblewrap, cgroups, docker-registry, skopeo, umoci and busybox-static
(skipped, with the reason, elsewhere).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ACCOUNT, RESULTS, ROLE, Server, percentile, sandbox_unavailable, zip_of

from e2e.image_side import BOOTSTRAP, missing_tools, push_runtime_image, registry

INIT = re.compile(r"Init Duration: ([\d.]+) ms")
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:v1"


def timed(call: Any, **params: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = call(**params)
    return (time.perf_counter() - started) * 1000, out


def invoke(server: Server, name: str) -> tuple[float, float | None]:
    ms, out = timed(server.client.invoke, FunctionName=name, Payload=b"{}", LogType="Tail")
    assert "FunctionError" not in out, out["Payload"].read()
    found = INIT.search(base64.b64decode(out["LogResult"]).decode())
    return ms, float(found.group(1)) if found else None


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": statistics.median(values), "p99": percentile(values, 99), "n": len(values)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--json", type=Path, default=RESULTS / "image_functions.json")
    args = ap.parse_args()
    n = 3 if args.quick else args.n
    why = sandbox_unavailable() or missing_tools()
    if why:
        print(f"skipped: {why}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="lambdad-image-bench-"))
    with registry(tmp) as address:
        push_runtime_image(
            tmp / "image", f"{address}/{ACCOUNT}/app:v1", {"MESSAGE": "x", "GREETING": "y"}
        )
        server = Server({"LAMBDAD_IMAGE_REGISTRY": f"http://{address}"}).start()
        try:
            figures = run(server, n)
        finally:
            server.stop()
    print_table(figures)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))
    return 0


def run(server: Server, n: int) -> dict[str, Any]:
    lam = server.client
    bootstrap = BOOTSTRAP.replace("wget -", "busybox wget -")
    archive = zip_of({"bootstrap": bootstrap})
    create: dict[str, list[float]] = {"image first": [], "image": [], "zip": []}
    cold: dict[str, list[float]] = {"image": [], "zip": []}
    init: dict[str, list[float]] = {"image": [], "zip": []}
    for i in range(n):
        ms, _ = timed(
            lam.create_function,
            FunctionName=f"image-{i}",
            PackageType="Image",
            Code={"ImageUri": ECR},
            Role=ROLE,
        )
        create["image first" if i == 0 else "image"].append(ms)
        ms, _ = timed(
            lam.create_function,
            FunctionName=f"zip-{i}",
            Runtime="provided.al2023",
            Handler="app.handler",
            Code={"ZipFile": _executable(archive)},
            Role=ROLE,
            Environment={"Variables": {"MESSAGE": "x", "GREETING": "y"}},
        )
        create["zip"].append(ms)
        for kind in ("image", "zip"):
            latency, init_ms = invoke(server, f"{kind}-{i}")
            cold[kind].append(latency)
            if init_ms is not None:
                init[kind].append(init_ms)
    warm = {kind: [invoke(server, f"{kind}-0")[0] for _ in range(5 * n)] for kind in cold}
    return {
        "create_ms": {k: stats(v) for k, v in create.items()},
        "cold_invoke_ms": {k: stats(v) for k, v in cold.items()},
        "init_duration_ms": {k: stats(v) for k, v in init.items()},
        "warm_invoke_ms": {k: stats(v) for k, v in warm.items()},
    }


def _executable(archive: bytes) -> bytes:
    """``archive`` with its bootstrap executable (zip_of writes 0644)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            info.external_attr = 0o755 << 16
            dst.writestr(info, src.read(info))
    return out.getvalue()


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'figure (ms)':<28}{'median':>10}{'p99':>10}{'n':>5}")
    for section, rows in figures.items():
        for kind, s in rows.items():
            if s:
                label = f"{section.removesuffix('_ms')} {kind}"
                print(f"{label:<28}{s['median']:>10.2f}{s['p99']:>10.2f}{s['n']:>5}")


if __name__ == "__main__":
    sys.exit(main())
