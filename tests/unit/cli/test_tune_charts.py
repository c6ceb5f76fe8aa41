"""The tuning curve: terminal text and the stdlib PNG."""

from __future__ import annotations

import struct
import zlib

from lambdad.cli.tune_chart import BOTH, COST, DURATION, curve
from lambdad.cli.tune_core import SizeResult
from lambdad.cli.tune_png import WIDTH, chart

RESULTS = [
    SizeResult(128, 5, 0, 400.0, 420.0, 401.0, 40, 0.5e-6),
    SizeResult(256, 5, 0, 200.0, 210.0, 201.0, 40, 0.3e-6),
    SizeResult(1024, 5, 0, 50.0, 52.0, 51.0, 40, 1.0e-6),
    SizeResult(2048, 5, 5, None, None, None, None, None),  # every invocation failed
]


def test_terminal_curve_puts_each_size_in_its_column() -> None:
    lines = curve(RESULTS, height=5)
    assert lines[0].startswith("400.0 ms ┤")
    assert lines[0].endswith("├ $1/1M")
    top, bottom = lines[0], lines[4]
    assert top[top.index("┤") + 5] == DURATION  # 128 MB: slowest at the top
    assert top[top.index("┤") + 21] == COST  # 1024 MB: the dearest
    assert bottom[bottom.index("┤") + 21] == DURATION  # and the fastest
    assert "128" in lines[-2]
    assert "2048" not in lines[-2]
    assert BOTH not in "".join(lines[:5])
    assert curve(RESULTS[3:]) == []


def test_png_is_a_valid_image_with_the_curves_colours() -> None:
    data = chart(RESULTS)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, depth, colour) == (WIDTH, 8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + width * 3)
    assert bytes((31, 119, 180)) in raw
    assert bytes((255, 127, 14)) in raw
