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


def _replace(owner: object, name: str, stand_in: object) -> None:
    """``owner.name`` replaced; a name the server no longer has stops the server (a
    knockout that silently knocked nothing out would print figures of nothing)."""
    if not hasattr(owner, name):
        raise SystemExit(f"bench knockout: {owner!r} has no {name} any more")
    setattr(owner, name, stand_in)


if _knocked:
    from lambdad import platform as _platform
    from lambdad.environments import environment as _environment
    from lambdad.invoke import lease_metrics as _lease_metrics
    from lambdad.observe import logs as _logs
    from lambdad.observe import metrics_recorder as _metrics

    unknown = _knocked - {"logs", "metrics", "store", "peak", "drain"}
    if unknown:
        raise SystemExit(f"bench knockout: unknown {', '.join(sorted(unknown))}")
    if "logs" in _knocked:
        _replace(_platform.Platform, "_log_sink", lambda self, *args: None)
    if "metrics" in _knocked:
        _replace(_metrics.MetricsRecorder, "invoked", lambda self, *a, **k: None)
        _replace(_lease_metrics, "sample", lambda *args: (1, 0, 0))
    if "store" in _knocked:
        _replace(_logs.LogStore, "flush", lambda self: None)
    if "peak" in _knocked:
        _replace(_environment.Environment, "_memory_mb", lambda self: 128)
    if "drain" in _knocked:
        _replace(_environment.Environment, "_drain_output", lambda self: None)
