"""The AWS SDK for JavaScript v3 as a layer, built once and cached, as a user builds one.

``functions/node_sdk/package.json`` and its lock pin the clients (``@aws-sdk/client-lambda``,
``@aws-sdk/client-s3``); ``npm ci`` installs them into ``.cache/node-sdk/nodejs/node_modules``
under the repository (ignored by git), and the layer archive (``nodejs/node_modules/...``,
the path Node.js functions find layers' modules under) is zipped once beside it. Both
are rebuilt only when the lock changes. ``make test`` builds it before the tests
(``python tests/e2e/node_sdk.py``), so no test pays for npm; a test run without make
builds it the first time it is needed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

SOURCE = Path(__file__).parent / "functions" / "node_sdk"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "node-sdk"
_STAMP = ".lock-sha256"


def _lock_digest() -> str:
    return hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()


def missing_npm() -> str | None:
    """Why the layer cannot be built here, or None."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "npm and node are needed (Debian's nodejs package)"
    return None


def layer_zip() -> bytes:
    """The layer archive's bytes, built (or taken from the cache)."""
    archive = CACHE / "layer.zip"
    stamp = CACHE / _STAMP
    digest = _lock_digest()
    if archive.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return archive.read_bytes()
    work = CACHE / "nodejs"
    shutil.rmtree(CACHE, ignore_errors=True)
    work.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SOURCE / name, work / name)
    subprocess.run(
        ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((work / "node_modules").rglob("*")):
            if path.is_file() and not path.is_symlink():
                zf.write(path, path.relative_to(CACHE).as_posix())
    archive.write_bytes(buffer.getvalue())
    stamp.write_text(digest)
    return buffer.getvalue()


if __name__ == "__main__":
    reason = missing_npm()
    if reason is not None:
        print(f"node SDK layer not built: {reason}", file=sys.stderr)
        sys.exit(0)
    try:
        size = len(layer_zip())
    except (OSError, subprocess.SubprocessError) as exc:
        # The test that needs it tries again, and fails saying why.
        print(f"node SDK layer not built: {exc}", file=sys.stderr)
        sys.exit(0)
    print(f"node SDK layer: {size} bytes in {CACHE}")
