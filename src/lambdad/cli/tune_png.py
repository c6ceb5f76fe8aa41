"""A PNG of the power-tuning curve, written with the standard library alone (zlib
for the image data, a 3x5 pixel font for the labels): median duration (blue, left
axis) and cost per million invocations (orange, right axis) against memory size (log
scale). No plotting library is installed with lambdad and a chart of two polylines
does not warrant one."""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence

from lambdad.cli.tune_core import SizeResult

RGB = tuple[int, int, int]
BLUE, ORANGE, GREY, BLACK = (31, 119, 180), (255, 127, 14), (200, 200, 200), (40, 40, 40)
WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 90, 110, 40, 60
SCALE = 2  # font pixels per glyph dot

_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "$": "011110010011110",
    "-": "000000111000000", "M": "101111111101101", "E": "111100110100111",
    "D": "110101101101110", "I": "111010010010111", "A": "010101111101101",
    "N": "110101101101101", "S": "011100010001110", "U": "101101101101111",
    "P": "110101110100100", "R": "110101110101101", "O": "010101101101010",
    "B": "110101110101110", "L": "100100100100111", "Y": "101101010010010",
    "C": "011100100100011", "T": "111010010010010", "K": "101110100110101",
    " ": "000000000000000",
}  # fmt: skip


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def dot(self, x: int, y: int, color: RGB, size: int = 1) -> None:
        for dy in range(size):
            for dx in range(size):
                px, py = x + dx, y + dy
                if 0 <= px < self.width and 0 <= py < self.height:
                    at = (py * self.width + px) * 3
                    self.pixels[at : at + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: RGB, size: int = 1) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            self.dot(
                round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps), color, size
            )

    def disc(self, x: int, y: int, radius: int, color: RGB) -> None:
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dx * dx + dy * dy <= radius * radius:
                    self.dot(x + dx, y + dy, color)

    def text(self, x: int, y: int, text: str, color: RGB = BLACK) -> None:
        for i, char in enumerate(text.upper()):
            glyph = _FONT.get(char, _FONT[" "])
            for bit, on in enumerate(glyph):
                if on == "1":
                    gx, gy = x + i * 4 * SCALE + bit % 3 * SCALE, y + bit // 3 * SCALE
                    self.dot(gx, gy, color, SCALE)

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width * 3 : (y + 1) * self.width * 3])
            for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_width(text: str) -> int:
    return len(text) * 4 * SCALE


def short(value: float) -> str:
    return f"{value:.3g}" if value < 1e5 else f"{value:.2e}".replace("+", "")


def chart(results: Sequence[SizeResult]) -> bytes:
    """The PNG image of the sizes that have a median duration and a cost."""
    points = [r for r in results if r.median_ms is not None and r.cost_usd is not None]
    canvas = Canvas(WIDTH, HEIGHT)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    canvas.line(x0, y0, x1, y0, BLACK)
    canvas.line(x0, y0, x0, y1, BLUE)
    canvas.line(x1, y0, x1, y1, ORANGE)
    canvas.text(x0, 12, "MEDIAN MS", BLUE)
    canvas.text(x1 - text_width("USD PER 1M"), 12, "USD PER 1M", ORANGE)
    canvas.text((x0 + x1 - text_width("MEMORY MB")) // 2, HEIGHT - 22, "MEMORY MB")
    if not points:
        return canvas.png()
    top_ms = max(r.median_ms or 0.0 for r in points) * 1.1 or 1.0
    top_usd = max((r.cost_usd or 0.0) * 1e6 for r in points) * 1.1 or 1.0
    logs = [math.log2(r.memory_mb) for r in points]
    low, span = min(logs), (max(logs) - min(logs)) or 1.0

    def px(r: SizeResult) -> int:
        if len(points) == 1:
            return (x0 + x1) // 2
        return round(x0 + 20 + (x1 - x0 - 40) * (math.log2(r.memory_mb) - low) / span)

    def py(value: float, top: float) -> int:
        return round(y0 - (y0 - y1) * value / top)

    for i in range(5):
        y = py(top_ms * i / 4, top_ms)
        canvas.line(x0 + 1, y, x1 - 1, y, GREY)
        label = short(top_ms * i / 4)
        canvas.text(x0 - 8 - text_width(label), y - 4, label, BLUE)
        canvas.text(x1 + 8, y - 4, short(top_usd * i / 4), ORANGE)
    for series, top, color in (
        ([r.median_ms or 0.0 for r in points], top_ms, BLUE),
        ([(r.cost_usd or 0.0) * 1e6 for r in points], top_usd, ORANGE),
    ):
        xy = [(px(r), py(v, top)) for r, v in zip(points, series, strict=True)]
        for (ax, ay), (bx, by) in itertools.pairwise(xy):
            canvas.line(ax, ay, bx, by, color, 2)
        for x, y in xy:
            canvas.disc(x, y, 4, color)
    for r in points:
        canvas.text(px(r) - text_width(str(r.memory_mb)) // 2, y0 + 10, str(r.memory_mb))
    return canvas.png()
