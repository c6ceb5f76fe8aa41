"""Time-series charts as inline SVG (no chart library, nothing fetched): a line over
the periods of a window, with a light grid, the y axis's scale and a few times along
the x axis. Pure: series in, markup out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 22


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _label(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}" if v == int(v) else f"{v:.2g}"


def _time(ts: int, span: int) -> str:
    fmt = "%H:%M" if span <= 86400 else "%m-%d"
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def points(
    series: dict[int, float], start: int, end: int, period: int, *, zero_fill: bool
) -> list[tuple[int, float | None]]:
    """One (timestamp, value) per period of the window; a period without data is 0
    when ``zero_fill`` (counts), else None (a gap: no duration was measured)."""
    out: list[tuple[int, float | None]] = []
    for ts in range(start, end, period):
        v = series.get(ts)
        out.append((ts, v if v is not None else (0.0 if zero_fill else None)))
    return out


def svg(
    title: str,
    series: dict[int, float],
    start: int,
    end: int,
    period: int,
    *,
    unit: str = "",
    zero_fill: bool = True,
) -> str:
    pts = points(series, start, end, period, zero_fill=zero_fill)
    top = nice_max(max((v for _, v in pts if v is not None), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(pts) - 1, 1)

    def x(i: int) -> float:
        return LEFT + plot_w * i / n

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0, 0.5, 1):
        gy = TOP + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy}" y2="{gy}"/>')
        parts.append(
            f'<text class="axis" x="{LEFT - 4}" y="{gy + 3}" text-anchor="end">'
            f"{escape(_label(top * frac))}</text>"
        )
    for i in (0, len(pts) // 2, len(pts) - 1):
        if 0 <= i < len(pts):
            anchor = "start" if i == 0 else "end" if i == len(pts) - 1 else "middle"
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                f"{_time(pts[i][0], end - start)}</text>"
            )
    for run in _runs(pts):
        line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
        if len(run) == 1:
            i, v = run[0]
            parts.append(f'<circle class="dot" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5"/>')
            continue
        base = TOP + plot_h
        area = f"{x(run[0][0]):.1f},{base} {line} {x(run[-1][0]):.1f},{base}"
        parts.append(f'<polygon class="area" points="{area}"/>')
        parts.append(f'<polyline class="line" points="{line}"/>')
    unit_text = f" ({escape(unit)})" if unit else ""
    parts.append("</svg>")
    total = [v for _, v in pts if v is not None]
    summary = _label(sum(total)) if zero_fill else (_label(max(total)) if total else "—")
    kind = "total" if zero_fill else "max"
    return (
        f'<figure class="chart-card" data-metric="{escape(title)}">'
        f"<figcaption>{escape(title)}{unit_text}"
        f'<span class="summary">{kind} {escape(summary)}</span></figcaption>'
        f"{''.join(parts)}</figure>"
    )


def _runs(pts: list[tuple[int, float | None]]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of values (index, value)."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, (_, v) in enumerate(pts):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    if current:
        runs.append(current)
    return runs
