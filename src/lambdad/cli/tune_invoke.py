"""The invocations of ``lambdad tune`` at one memory size: warm-up invokes that are
not counted (one per environment the run keeps busy), then ``count`` invocations,
``parallel`` at a time, each with ``LogType: Tail`` so that its REPORT line (duration,
billed duration, memory used) comes back with it, as AWS Lambda Power Tuning reads it."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdad.cli.tune_core import Sample, parse_report


def invoke_once(lam: Any, name: str, qualifier: str, payload: bytes) -> Sample:
    import botocore.exceptions

    try:
        out = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=payload, LogType="Tail")
        out["Payload"].read()
    except botocore.exceptions.ClientError as exc:
        return Sample(None, str(exc.response.get("Error", {}).get("Code", "ClientError")))
    except botocore.exceptions.BotoCoreError as exc:
        return Sample(None, type(exc).__name__)
    tail = base64.b64decode(out.get("LogResult", "")).decode("utf-8", "replace")
    return Sample(parse_report(tail), out.get("FunctionError"))


def run_size(
    lam: Any,
    name: str,
    qualifier: str,
    payload: bytes,
    count: int,
    parallel: int,
) -> list[Sample]:
    workers = max(1, min(parallel, count))
    pool = ThreadPoolExecutor(max_workers=workers)
    # Warm-up, not counted: one invoke per environment the run will keep busy, so that
    # cold starts are not the size's figures.
    warm = [pool.submit(invoke_once, lam, name, qualifier, payload) for _ in range(workers)]
    try:
        for future in warm:
            future.result()
        futures = [pool.submit(invoke_once, lam, name, qualifier, payload) for _ in range(count)]
        return [future.result() for future in futures]
    finally:
        # On Ctrl-C, invocations not started yet are dropped rather than waited for.
        pool.shutdown(wait=False, cancel_futures=True)
