"""The AWS SDK for Python that AWS's Python runtimes carry, for lambdad's.

Functions on AWS can ``import boto3`` without packaging it. lambdad gives its Python
runtime the same: boto3 and its dependencies, taken from lambdad's own environment,
placed once in ``runtimes/python/sdk`` (hard links where the file system allows, else
copies), which every sandbox already sees at ``/var/runtime/python/sdk``. The bootstrap
puts it on ``sys.path`` after the layers, as AWS orders it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from lambdad.runtimes.table import RUNTIME_DIR

log = logging.getLogger(__name__)

SDK_DIR = RUNTIME_DIR / "python" / "sdk"
PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_MARKER = ".versions"


def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        found[name] = origin.parent if origin.name == "__init__.py" else origin
    return found


def _fingerprint(sources: dict[str, Path]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in sorted(sources):
        dist = "python-dateutil" if name == "dateutil" else name
        try:
            parts.append(f"{name}=={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{name}@{sources[name]}")
    return "\n".join(parts)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def ensure_python_sdk(target: Path = SDK_DIR) -> Path | None:
    """Build (or reuse) the SDK directory; None when it cannot be made here."""
    sources = _sources()
    if "boto3" not in sources:
        return None
    fingerprint = _fingerprint(sources)
    marker = target / _MARKER
    if marker.exists() and marker.read_text() == fingerprint:
        return target
    staging = target.with_name(target.name + ".tmp")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, src in sources.items():
            if src.is_dir():
                shutil.copytree(
                    src,
                    staging / name,
                    copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            else:
                _link_or_copy(str(src), str(staging / src.name))
        (staging / _MARKER).write_text(fingerprint)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except OSError as exc:
        log.warning("no AWS SDK for Python functions (cannot write %s: %s)", target, exc)
        shutil.rmtree(staging, ignore_errors=True)
        return None
    return target
