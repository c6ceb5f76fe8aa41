"""Run the benchmarks: ``python -m bench [--quick] [NAME ...]``.

Every ``bench/<name>.py`` (not starting with ``_``) is a benchmark script with its
own ``--quick`` (a short smoke run, what CI runs) and ``--json PATH``; each runs in
its own process, one after the other, and writes its figures to ``bench/results/``.
With no NAME, all of them run. The exit status is the first non-zero one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.name.startswith("_"))


def main() -> int:
    available = benchmarks()
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="short smoke runs")
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(available)}")
    args = ap.parse_args()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        ap.error(f"unknown benchmark {', '.join(unknown)} (have: {', '.join(available)})")
    status = 0
    for name in args.names or available:
        print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        argv = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        code = subprocess.run(argv, check=False).returncode
        if code != 0:
            print(f"== {name} exited {code}", file=sys.stderr, flush=True)
            status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
