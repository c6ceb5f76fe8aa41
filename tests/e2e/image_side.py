"""The container-image side of end-to-end tests: an OCI registry (Debian's
``docker-registry``) started by the test, and small images built without Docker.

``registry(tmp)`` runs ``docker-registry serve`` on a free loopback port with its
storage in ``tmp`` and yields its address (``127.0.0.1:PORT``). ``push_runtime_image``
builds an image with umoci (Debian's static busybox, a ``bootstrap`` shell script that
speaks the Runtime API with busybox ``wget``), and pushes it with skopeo.
``push_layer_image`` pushes an image of one hand-made layer (hostile entries).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from e2e.helpers import free_port
from lambdad.sandbox.image_stage import is_static

TOOLS = ("docker-registry", "skopeo", "umoci")
BUSYBOX = Path("/bin/busybox")

# Answers each event with what it sees: its variables, uid, working directory, argv.
BOOTSTRAP = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "bootstrap init: handler=$_HANDLER"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(wget -q -S -O - "$API/invocation/next" 2>"$HEADERS")
  ID=$(grep -i "Lambda-Runtime-Aws-Request-Id" "$HEADERS" | head -1 | sed 's/.*: *//' | tr -d '\r ')
  echo "handling $ID"
  BODY="{\"message\":\"$MESSAGE\",\"greeting\":\"$GREETING\",\"event\":$EVENT"
  BODY="$BODY,\"uid\":\"$(id -u)\",\"cwd\":\"$(pwd)\",\"args\":\"$*\""
  BODY="$BODY,\"execution_env\":\"$AWS_EXECUTION_ENV\",\"handler\":\"$_HANDLER\"}"
  wget -q -O /dev/null --post-data "$BODY" "$API/invocation/$ID/response"
done
"""


def missing_tools() -> str | None:
    """Why images cannot be built and served here, or None."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install docker-registry skopeo umoci)"
    if not BUSYBOX.exists():
        return "busybox-static not installed (apt-get install busybox-static)"
    if not is_static(BUSYBOX):
        # A dynamic busybox (Debian's busybox package) needs a loader the images lack.
        return f"{BUSYBOX} is not statically linked (apt-get install busybox-static)"
    return None


@contextlib.contextmanager
def registry(tmp: Path) -> Iterator[str]:
    """An OCI registry on a free loopback port; its ``host:port``."""
    address = f"127.0.0.1:{free_port()}"
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'storage'}\n"
        f"http:\n  addr: {address}\n"
    )
    log = (tmp / "registry.log").open("wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start: {(tmp / 'registry.log').read_text()}"
                    ) from None
                time.sleep(0.05)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def push_runtime_image(
    work: Path,
    destination: str,
    env: Mapping[str, str],
    cmd: tuple[str, ...] = ("app.handler",),
    extra: Mapping[str, tuple[bytes | None, int]] | None = None,
) -> None:
    """Build the bootstrap image (busybox, ``/var/task/bootstrap`` as its ENTRYPOINT,
    ``env`` as its ENV, WORKDIR /var/task) and push it to ``destination``
    (``host:port/repository:tag``); ``extra``: more files, path -> (content, mode), a
    directory where the content is None."""
    work.mkdir(parents=True)
    layout, bundle = work / "oci", work / "bundle"
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{layout}:base")
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:base", str(bundle))
    root = bundle / "rootfs"
    (root / "bin").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "wget", "mktemp", "grep", "head", "sed", "tr", "id", "pwd", "echo"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "var" / "task").mkdir(parents=True)
    bootstrap = root / "var" / "task" / "bootstrap"
    bootstrap.write_text(BOOTSTRAP)
    bootstrap.chmod(0o755)
    for path, (content, mode) in (extra or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            (root / path).mkdir()
        else:
            (root / path).write_bytes(content)
        (root / path).chmod(mode)
    # repack first: it writes the bundle's configuration, which umoci config then changes.
    _run("umoci", "repack", "--image", f"{layout}:built", str(bundle))
    config = ["--config.entrypoint", "/var/task/bootstrap", "--config.workingdir", "/var/task"]
    config += ["--config.env=PATH=/bin:/usr/bin"]
    for name, value in env.items():
        config.append(f"--config.env={name}={value}")
    for word in cmd:
        config += ["--config.cmd", word]
    _run("umoci", "config", "--image", f"{layout}:built", "--tag", "final", *config)
    _push(f"oci:{layout}:final", destination)


def push_layer_image(work: Path, destination: str, entries: list[tarfile.TarInfo]) -> None:
    """Push an image of one layer holding ``entries`` (empty files, links, devices)."""
    work.mkdir(parents=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for entry in entries:
            tar.addfile(entry, io.BytesIO(b"") if entry.isreg() else None)
    layer = gzip.compress(raw.getvalue())
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/bootstrap"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    blobs = work / "oci" / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **blob(json.dumps(config).encode()),
        },
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layer)}],
    }
    described = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **blob(json.dumps(manifest).encode()),
        "annotations": {"org.opencontainers.image.ref.name": "hostile"},
    }
    (work / "oci" / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (work / "oci" / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [described]})
    )
    _push(f"oci:{work / 'oci'}:hostile", destination)


def _push(source: str, destination: str) -> None:
    _run(
        "skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
        source, f"docker://{destination}",
    )  # fmt: skip
