"""Response streaming through ``InvokeWithResponseStream``, beside a buffered ``Invoke``.

One ``lambdad serve``, warmed Node.js functions. Figures, each over several invokes:

- time to the first ``PayloadChunk`` and to ``InvokeComplete`` for a handler that writes
  a piece, waits 200 ms and writes another (streaming shows in the gap between them);
- streaming throughput: a handler writing 64 MiB in 64 KiB pieces, MiB/s as boto3
  reads the event stream;
- the baseline in the same run: a buffered ``Invoke`` of a 5 MiB result, MiB/s.

    python bench/streaming.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

STREAMING = r"""
exports.pause = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('first');
  await new Promise((r) => setTimeout(r, 200));
  stream.end('second');
});
exports.bulk = awslambda.streamifyResponse(async (event, stream) => {
  const piece = Buffer.alloc(65536, 120);
  for (let i = 0; i < event.pieces; i++) {
    if (!stream.write(piece)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
});
exports.buffered = async () => 'x'.repeat(5 * 1024 * 1024 - 2);
"""
MIB = 1024 * 1024


def first_and_last(server: c.Server, name: str) -> tuple[float, float]:
    started = time.perf_counter()
    out = server.client.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    first = last = 0.0
    for event in out["EventStream"]:
        if "PayloadChunk" in event and not first:
            first = time.perf_counter() - started
        if "InvokeComplete" in event:
            last = time.perf_counter() - started
    return first * 1000, last * 1000


def streamed_mib_s(server: c.Server, name: str, pieces: int) -> float:
    started = time.perf_counter()
    out = server.client.invoke_with_response_stream(
        FunctionName=name, Payload=f'{{"pieces": {pieces}}}'.encode()
    )
    size = sum(len(e["PayloadChunk"]["Payload"]) for e in out["EventStream"] if "PayloadChunk" in e)
    assert size == pieces * 65536, size
    return size / MIB / (time.perf_counter() - started)


def buffered_mib_s(server: c.Server, name: str) -> float:
    started = time.perf_counter()
    payload = server.client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    return len(payload) / MIB / (time.perf_counter() - started)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = 3 if args.quick else 10
    pieces = 64 if args.quick else 1024  # 4 MiB or 64 MiB
    server = c.Server({}).start()
    try:
        files = {"index.js": STREAMING}
        for handler in ("pause", "bulk", "buffered"):
            server.create(handler, files=files, Runtime="nodejs20.x", Handler=f"index.{handler}",
                          MemorySize=1769, Timeout=60)  # fmt: skip
        first_and_last(server, "pause")  # warm up each
        streamed_mib_s(server, "bulk", 1)
        buffered_mib_s(server, "buffered")
        gaps = [first_and_last(server, "pause") for _ in range(n)]
        streamed = [streamed_mib_s(server, "bulk", pieces) for _ in range(max(1, n // 3))]
        buffered = [buffered_mib_s(server, "buffered") for _ in range(n)]
    finally:
        server.stop()
    rows: dict[str, dict[str, Any]] = {
        "first PayloadChunk (ms)": c.summary([g[0] for g in gaps]),
        "InvokeComplete (ms)": c.summary([g[1] for g in gaps]),
        f"streamed {pieces * 64 // 1024} MiB (MiB/s)": c.summary(streamed),
        "buffered Invoke of 5 MiB (MiB/s)": c.summary(buffered),
    }
    c.print_rows("InvokeWithResponseStream, a warm Node.js function", rows, unit="")
    result = {"host": c.host_info(), "n": n, "rows": rows}
    print("wrote", c.write_json("streaming", result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
