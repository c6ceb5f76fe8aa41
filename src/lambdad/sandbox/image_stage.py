"""The static program that runs an image sandbox's privileged stage (``image_stage.c``).

Built once per source with the host's C compiler (``cc -static``: Debian's gcc and
libc6-dev) into ``<dir>/image-stage-<source hash>``, a directory only root reads, and
checked to be static (no ``PT_INTERP``: nothing for a loader to find in the image).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from lambdad.errors import SandboxError

PT_INTERP = 3
BUILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def source() -> bytes:
    return resources.files("lambdad.sandbox").joinpath("image_stage.c").read_bytes()


def build(directory: Path, compiler: str = "cc") -> str:
    """The static stage program, compiled into ``directory`` unless it is there already."""
    code = source()
    target = directory / f"image-stage-{hashlib.sha256(code).hexdigest()[:16]}"
    if target.is_file() and is_static(target):
        return str(target)
    cc = shutil.which(compiler, path=BUILD_ENV["PATH"])
    if cc is None:
        raise SandboxError(
            "container images need lambdad's static stage program, built with a C compiler: "
            "apt-get install gcc libc6-dev"
        )
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    work = directory / f".build-{uuid.uuid4().hex[:8]}"
    work.mkdir(mode=0o700)
    try:
        (work / "image_stage.c").write_bytes(code)
        argv = [cc, "-static", "-Os", "-o", str(work / "out"), str(work / "image_stage.c")]
        done = subprocess.run(argv, env=BUILD_ENV, capture_output=True, timeout=120, check=False)
        if done.returncode != 0 or not is_static(work / "out"):
            raise SandboxError(
                "cannot build lambdad's static stage program for container images "
                f"(apt-get install gcc libc6-dev): {done.stderr.decode(errors='replace')[-300:]}"
            )
        os.chmod(work / "out", 0o755)
        os.replace(work / "out", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)


def is_static(path: Path) -> bool:
    """Whether ``path`` is a 64-bit little-endian ELF program without an interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return False
            (phoff,) = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    if phentsize < 4 or len(table) < phentsize * phnum:
        return False
    kinds = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    return PT_INTERP not in kinds
