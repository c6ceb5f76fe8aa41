"""The power-tuning curve as terminal text (pure): one column per memory size, the
median duration (``●``, left scale) and the cost per invocation (``▲``, right scale)
each drawn against its own maximum, so both curves fill the height."""

from __future__ import annotations

from collections.abc import Sequence

from lambdad.cli.tune_core import SizeResult

DURATION, COST, BOTH = "●", "▲", "◆"
COLUMN = 8


def _row(value: float, top: float, height: int) -> int:
    """0 = bottom row."""
    return round(value / top * (height - 1)) if top > 0 else 0


def curve(results: Sequence[SizeResult], height: int = 10) -> list[str]:
    """The chart's lines, top first (empty when no size has figures)."""
    points = [r for r in results if r.median_ms is not None and r.cost_usd is not None]
    if not points:
        return []
    top_ms = max(r.median_ms or 0.0 for r in points)
    top_usd = max(r.cost_usd or 0.0 for r in points)
    grid = [[" "] * (COLUMN * len(points)) for _ in range(height)]
    for i, r in enumerate(points):
        col = i * COLUMN + COLUMN // 2
        d = _row(r.median_ms or 0.0, top_ms, height)
        c = _row(r.cost_usd or 0.0, top_usd, height)
        grid[height - 1 - d][col] = DURATION
        grid[height - 1 - c][col] = BOTH if c == d else COST
    left = f"{top_ms:.1f} ms"
    right = f"${top_usd * 1e6:.3g}/1M"
    pad = max(len(left), 6)
    lines = [f"{left:>{pad}} ┤{''.join(grid[0])}├ {right}"]
    lines += [f"{'':>{pad}} │{''.join(row)}│" for row in grid[1:-1]]
    lines.append(f"{'0':>{pad}} ┤{''.join(grid[-1])}├ $0")
    lines.append(f"{'':>{pad}} └{'─' * (COLUMN * len(points))}┘")
    labels = "".join(f"{r.memory_mb:^{COLUMN}}" for r in points)
    lines.append(f"{'':>{pad}}  {labels} MB")
    lines.append(f"{'':>{pad}}  {DURATION} median duration   {COST} cost per invocation")
    return lines
