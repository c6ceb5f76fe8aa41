"""Start-up sweep of extracted code: a directory whose archive is gone is removed,
read-only as the cache leaves it; one whose archive is there stays."""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from pathlib import Path

from lambdad.environments.code import CodeCache
from lambdad.environments.layers import OptCache
from lambdad.store.blobs import BlobStore


def archive(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/app.py", text)
    return buf.getvalue()


def test_sweep_removes_code_whose_archive_is_gone(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.open()
    kept = blobs.put(archive("kept = 1\n"))
    gone = blobs.put(archive("gone = 1\n"))
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)
    kept_dir = asyncio.run(cache.ensure(kept))
    gone_dir = asyncio.run(cache.ensure(gone))
    assert not os.access(gone_dir / "pkg", os.W_OK) or os.geteuid() == 0  # read-only tree
    (tmp_path / "code" / ".partial").mkdir()  # an extraction cut short
    blobs.delete(gone)

    assert cache.sweep() == 1

    assert not gone_dir.exists()
    assert not (tmp_path / "code" / ".partial").exists()
    assert (kept_dir / "pkg" / "app.py").read_text() == "kept = 1\n"


def test_sweep_removes_every_assembled_opt_tree(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.open()
    layer = blobs.put(archive("layer = 1\n"))
    opt = OptCache(tmp_path / "opt", CodeCache(tmp_path / "code", blobs, 10 << 20))
    built = asyncio.run(opt.ensure([layer]))
    assert built is not None
    assert built.is_dir()

    assert opt.sweep() == 1

    assert not built.exists()
    rebuilt = asyncio.run(opt.ensure([layer]))  # built again on first use
    assert rebuilt is not None
    assert (rebuilt / "pkg" / "app.py").exists()
