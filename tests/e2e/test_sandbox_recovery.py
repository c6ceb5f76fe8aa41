"""After lambdad itself crashes, nothing of its environments survives the next start.

A server with warm sandboxed environments is SIGKILLed. bwrap's
``--die-with-parent`` ends the sandboxes and slirp4netns's ``--exit-fd`` its NAT
helpers at once; the environments' cgroups stay behind until the next start on the
same data directory, which removes them and kills anything still inside.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import pytest

from e2e.helpers import LambdadServer
from e2e.sandboxes import (
    alive,
    cgroup_dirs,
    cgroup_procs,
    deploy_hostile,
    descendants,
    env_cgroups,
    require_full_isolation,
)

require_full_isolation()

ServerFactory = Callable[..., LambdadServer]
SANDBOXED = {"LAMBDAD_SANDBOX": "bwrap", "LAMBDAD_NETWORK": "isolated"}
# Both ways an environment starts: bwrap exec'ing the runtime, or a zygote's fork.
START_PATHS = {"exec": "false", "zygote": "true"}


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("start", sorted(START_PATHS))
def test_restart_after_crash_removes_what_the_crashed_server_left(
    lambdad_factory: ServerFactory, start: str
) -> None:
    # No spare sandboxes (built in the background, each with its NAT): the count below
    # is exact.
    env = {**SANDBOXED, "LAMBDAD_FAST_PATH": START_PATHS[start], "LAMBDAD_ZYGOTE_SPARES": "0"}
    crashed = lambdad_factory(env=env)
    names = [deploy_hostile(crashed, "echo"), deploy_hostile(crashed, "echo")]
    for name in names:
        crashed.client().invoke(FunctionName=name, Payload=b"{}")
    assert crashed.process is not None
    # bwrap (or a zygote) and slirp4netns for each environment, and what they started.
    helpers = descendants(crashed.process.pid)
    assert list(helpers.values()).count("slirp4netns") == 2
    envs = env_cgroups(crashed.data_dir)
    runtimes = [pid for env in envs for pid in cgroup_procs(env)]
    assert len(envs) == 2
    assert len(runtimes) >= 2

    crashed.process.kill()
    crashed.process.wait()

    # --die-with-parent and --exit-fd: no sandbox and no NAT helper outlives lambdad...
    still = lambda: [p for p in [*helpers, *runtimes] if alive(p)]  # noqa: E731
    assert wait_until(lambda: not still()), f"left running: {still()}"
    # ...but the cgroups stay, in every hierarchy.
    leftovers = [d / env.name for d in cgroup_dirs(crashed.data_dir) for env in envs]
    assert all(d.is_dir() for d in leftovers)
    # A process that escaped both (here: put there by hand) is still in one of them.
    stray = subprocess.Popen(["sleep", "600"])
    try:
        for d in cgroup_dirs(crashed.data_dir):
            (d / sorted(envs)[0].name / "cgroup.procs").write_text(str(stray.pid))

        restarted = lambdad_factory(data_dir=crashed.data_dir, env=env)

        assert stray.wait(10) == -9  # killed with its cgroup
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
    assert not [d for d in leftovers if d.exists()]
    assert not [
        p for p in (restarted.data_dir / "envs").iterdir() if p.name in {env.name for env in envs}
    ]
    # The functions survived the crash and run again, in fresh environments.
    for name in names:
        resp = restarted.client().invoke(FunctionName=name, Payload=b'{"again": 1}')
        assert json.loads(resp["Payload"].read()) == {"again": 1}
    assert env_cgroups(restarted.data_dir).isdisjoint(envs)
    assert restarted.stop() == 0
    assert not [d for d in cgroup_dirs(restarted.data_dir) if d.exists()]
