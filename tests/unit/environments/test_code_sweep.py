"""Start-up sweep of extracted code: a directory whose archive is gone is removed,
read-only as the cache leaves it; one whose archive is there stays."""

from __future__ import annotations

import asyncio
import io
import stat
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


def test_sweep_removes_code_whose_archive_is_gone(tmp_path: Path, blobs: BlobStore) -> None:
    kept = blobs.put(archive("kept = 1\n"))
    gone = blobs.put(archive("gone = 1\n"))
    cache = CodeCache(tmp_path / "code", blobs, 10 << 20)
    kept_dir = asyncio.run(cache.ensure(kept))
    gone_dir = asyncio.run(cache.ensure(gone))
    assert stat.S_IMODE((gone_dir / "pkg").stat().st_mode) & 0o222 == 0  # read-only tree
    (tmp_path / "code" / ".partial").mkdir()  # an extraction cut short
    blobs.delete(gone)

    assert cache.sweep() == 1

    assert not gone_dir.exists()
    assert not (tmp_path / "code" / ".partial").exists()
    assert (kept_dir / "pkg" / "app.py").read_text() == "kept = 1\n"


def test_sweep_removes_opt_trees_whose_layers_are_gone(tmp_path: Path, blobs: BlobStore) -> None:
    kept_layer = blobs.put(archive("kept = 1\n"))
    gone_layer = blobs.put(archive("gone = 1\n"))
    opt = OptCache(tmp_path / "opt", CodeCache(tmp_path / "code", blobs, 10 << 20))
    kept = asyncio.run(opt.ensure([kept_layer]))
    gone = asyncio.run(opt.ensure([kept_layer, gone_layer]))
    assert kept is not None
    assert gone is not None
    (tmp_path / "opt" / ".half.tmp").mkdir()  # a build a crash cut short
    blobs.delete(gone_layer)

    assert opt.sweep() == 2

    assert kept.is_dir()
    assert not gone.exists()
    assert not (tmp_path / "opt" / ".half.tmp").exists()
    assert sorted(p.name for p in (tmp_path / "opt").iterdir()) == sorted(
        [kept.name, f"{kept.name}.layers"]
    )
