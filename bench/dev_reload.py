"""``lambdad dev``: from a file saved to the first invoke that runs it, beside the
same update made directly through the API, same run.

One ``lambdad serve`` (default sandbox), a small Python function, and ``lambdad dev
--function`` watching its directory. Each round writes ``app.py`` with a new tag and
invokes until the answer carries it: the time from the write is what a developer
waits between saving and seeing the change. The baseline round does the same update
by hand (``UpdateFunctionCode`` with the same archive, wait until done, invoke):
what the API and a cold start of the new code cost without the watcher.

    python bench/dev_reload.py [--quick] [--n N] [--json PATH]
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

SOURCE = "def handler(event, context):\n    return {{'tag': {tag}}}\n"


def tag_of(server: c.Server) -> Any:
    return json.loads(server.client.invoke(FunctionName="dev")["Payload"].read()).get("tag")


def via_watcher(server: c.Server, source: Path, tag: int) -> float:
    started = time.monotonic()
    source.write_text(SOURCE.format(tag=tag))
    while tag_of(server) != tag:
        time.sleep(0.005)
    return (time.monotonic() - started) * 1000


def by_hand(server: c.Server, tag: int) -> float:
    started = time.monotonic()
    archive = c.code_zip(SOURCE.format(tag=tag))
    server.client.update_function_code(FunctionName="dev", ZipFile=archive)
    while server.client.get_function_configuration(FunctionName="dev")["LastUpdateStatus"] == (
        "InProgress"
    ):
        time.sleep(0.005)
    while tag_of(server) != tag:
        time.sleep(0.005)
    return (time.monotonic() - started) * 1000


def main() -> int:
    args = c.parse_args(5, 30)
    n = args.n

    server = c.Server({}).start()
    directory = Path(tempfile.mkdtemp(prefix="lambdad-dev-"))
    source = directory / "app.py"
    source.write_text(SOURCE.format(tag=0))
    server.create("dev", source=SOURCE.format(tag=0))
    env = c.cli_env(AWS_ENDPOINT_URL=server.endpoint)
    watcher = subprocess.Popen(
        [str(c.LAMBDAD), "dev", "--function", "dev", str(directory)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)  # the watcher's first push and its watch started
        times: dict[str, list[float]] = {"lambdad dev: save -> served": [], "by hand": []}
        for i in range(1, n + 1):
            times["lambdad dev: save -> served"].append(via_watcher(server, source, 2 * i))
            times["by hand"].append(by_hand(server, 2 * i + 1))
            source.write_text(SOURCE.format(tag=2 * i + 1))  # the watcher's view agrees
            time.sleep(0.3)
        rows = {label: c.summary(values) for label, values in times.items()}
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(15)
        server.stop()
    c.print_rows(f"edit-to-invoke, {n} rounds each, alternating", rows)
    c.write_rows("dev_reload", args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
