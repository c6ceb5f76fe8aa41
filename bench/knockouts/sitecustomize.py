"""Loaded by ``bench/http_doors_knockouts.py``'s servers only (their ``PYTHONPATH``):
switches off, in that server process, the per-invocation work that
``LAMBDAD_BENCH_KNOCKOUT`` names (comma-separated), to measure what each costs on the
warm path. Never part of a real server.

- ``logs``: no log lines stored (START/END/REPORT and the function's own).
- ``metrics``: no invocation metrics recorded or folded.
- ``peak``: REPORT's Max Memory Used not read (a constant).
- ``drain``: the runtime's output pipe not read at the end of each invocation.
- ``store``: log lines made and buffered, never written to the log database.
"""

import os

_knocked = set(filter(None, os.environ.get("LAMBDAD_BENCH_KNOCKOUT", "").split(",")))
if _knocked:
    from lambdad import platform as _platform
    from lambdad.environments import environment as _environment
    from lambdad.invoke import sync as _sync
    from lambdad.observe import metrics_recorder as _metrics

    if "logs" in _knocked:
        _platform.Platform._log_sink = lambda self, *args: None  # type: ignore[method-assign]
    if "metrics" in _knocked:
        _metrics.MetricsRecorder.invoked = lambda self, *a, **k: None  # type: ignore[method-assign]
        _sync.lease_metrics.sample = lambda *args: (1, 0, 0)  # type: ignore[assignment]
    if "store" in _knocked:
        from lambdad.observe import logs as _logs

        _logs.LogStore.flush = lambda self: None  # type: ignore[method-assign]
    if "peak" in _knocked:
        _environment.Environment._memory_mb = lambda self: 128  # type: ignore[method-assign]
    if "drain" in _knocked:
        _environment.Environment._drain_output = lambda self: None  # type: ignore[method-assign]
