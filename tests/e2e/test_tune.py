"""``lambdad tune`` as a user runs it against a real server: a report per memory
size, a PNG, and afterwards no scratch version or alias left and $LATEST's memory
size as it was — also when the function fails, and when the run is stopped."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.helpers import LAMBDAD, LambdadServer, client_env, handler_zip, run_lambdad

SOURCE = """
import time

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return sum(i * i for i in range(20000))
"""


def versions_and_aliases(lam: Any, name: str) -> tuple[set[str], set[str]]:
    versions = {v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]}
    aliases = {a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]}
    return versions, aliases


def made_function(lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]) -> str:
    """A function at 128 MB with a published version 1 (at 128 MB) behind alias ``live``."""
    name: str = new_function(handler_zip(SOURCE), MemorySize=128, Timeout=10)["FunctionName"]
    lam = lambdad.client("lambda")
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


def assert_untouched(lambdad: LambdadServer, name: str) -> None:
    lam = lambdad.client("lambda")
    assert versions_and_aliases(lam, name) == ({"$LATEST", "1"}, {"live"})
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 128


def test_tune_reports_each_size_and_leaves_nothing_behind(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    name = made_function(lambdad, new_function)
    png = tmp_path / "curve.png"
    args = ("tune", name, "--payload", "{}", "--memory", "256,128", "-n", "3", "--parallel", "2")
    proc = run_lambdad(*args, "--png", str(png), "--json", env=client_env(lambdad))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["function"] == name
    assert [s["memory_mb"] for s in doc["sizes"]] == [128, 256]
    for size in doc["sizes"]:
        assert size["invocations"] == 3
        assert size["errors"] == 0
        assert 0 < size["median_ms"] <= size["p99_ms"]
        assert size["billed_median_ms"] >= size["median_ms"]
        # At least the request price (AWS's $0.20 per million) plus some GB-seconds.
        assert size["cost_usd"] > 0.2 / 1_000_000
    assert doc["cheapest"] in (128, 256)
    assert doc["fastest"] in (128, 256)
    assert doc["recommended"] == doc["cheapest"]  # the default strategy is cost
    image = png.read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", image[16:24]) == (720, 420)
    assert_untouched(lambdad, name)

    # The same run for a human: a table, the verdict and the curve in the terminal.
    human = run_lambdad(*args[:5], "128", "-n", "1", env=client_env(lambdad))
    assert human.returncode == 0, human.stderr
    assert "cheapest: 128 MB" in human.stdout
    assert "median duration" in human.stdout
    assert_untouched(lambdad, name)


def test_failing_function_is_reported_and_cleaned_up(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    name = made_function(lambdad, new_function)
    proc = run_lambdad(
        "tune", name, "--payload", '{"fail": true}', "--memory", "128,256", "-n", "2", "--json",
        env=client_env(lambdad),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["errors"] for s in doc["sizes"]] == [2, 2]
    assert doc["cheapest"] is None
    assert doc["recommended"] is None
    assert_untouched(lambdad, name)


def tuning(lambdad: LambdadServer, name: str) -> subprocess.Popen[str]:
    """A long ``lambdad tune`` of ``name``, once the first size's invocations have begun."""
    proc = subprocess.Popen(
        [LAMBDAD, "tune", name, "--payload", '{"sleep": 0.3}', "--memory", "128,512", "-n", "50"],
        env=client_env(lambdad),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "invocations" in line:
            break
    return proc


def test_stopped_run_cleans_up(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    name = made_function(lambdad, new_function)
    proc = tuning(lambdad, name)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "scratch versions and aliases removed" in err
    assert_untouched(lambdad, name)


def test_a_killed_runs_leftovers_are_named_and_cleaned(
    lambdad: LambdadServer, new_function: Callable[..., dict[str, Any]]
) -> None:
    name = made_function(lambdad, new_function)
    proc = tuning(lambdad, name)
    proc.kill()  # no clean-up possible
    proc.communicate(timeout=30)
    lam = lambdad.client("lambda")
    # $LATEST was put back before the invocations began; the scratch aliases remain.
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 128
    assert len(versions_and_aliases(lam, name)[1]) == 3
    again = run_lambdad("tune", name, "--payload", "[", env=client_env(lambdad))
    assert again.returncode == 2
    assert "--payload" in again.stderr
    assert "not JSON" in again.stderr
    again = run_lambdad("tune", name, "--payload", "{}", "--memory", "128", "-n", "1",
                        env=client_env(lambdad))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"`lambdad tune {name} --clean` removes them" in again.stderr
    cleaned = run_lambdad("tune", name, "--clean", env=client_env(lambdad))
    assert cleaned.returncode == 0, cleaned.stderr
    assert "2 scratch alias(es)" in cleaned.stdout
    assert_untouched(lambdad, name)


def test_unknown_function_and_bad_sizes_say_what_is_wrong(lambdad: LambdadServer) -> None:
    proc = run_lambdad("tune", "no-such-fn", "--payload", "{}", env=client_env(lambdad))
    assert proc.returncode == 1
    assert "ResourceNotFoundException" in proc.stderr
    proc = run_lambdad("tune", "f", "--payload", "{}", "--memory", "64", env=client_env(lambdad))
    assert proc.returncode == 2
    assert "64 MB is outside 128-10240 MB" in proc.stderr
