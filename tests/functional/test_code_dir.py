"""What ``lambdad deploy`` and ``lambdad dev`` package from a code directory: a lambdad
data directory in it (the README serves from the project's directory) never goes in."""

from __future__ import annotations

import shutil
from pathlib import Path

from lambdad.cli.code_dir import code_files, ignore_for_copy, packaged


def _project(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("def handler(e, c):\n    return e\n")
    (root / "pkg" / "mod.py").write_text("")
    (root / "pkg" / "mod.pyc").write_bytes(b"\0")  # kept by deploy (.pyc-only packages)
    for data_dir, marker in ((".lambdad", "credentials.json"), ("state", "serve.lock")):
        (root / data_dir / "blobs").mkdir(parents=True)
        (root / data_dir / marker).write_text("secret")
        (root / data_dir / "blobs" / "x").write_text("blob")
    (root / ".venv" / "lib").mkdir(parents=True)  # a virtualenv, whatever its name
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin")
    (root / ".venv" / "lib" / "big.py").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "state" / "master.key").write_bytes(b"k")


def test_a_data_directory_is_never_packaged(tmp_path: Path) -> None:
    _project(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in code_files(tmp_path)]
    assert names == ["app.py", "pkg/mod.py", "pkg/mod.pyc"]
    assert packaged(tmp_path / "app.py", tmp_path)
    assert not packaged(tmp_path / "state" / "lambdad.db-wal", tmp_path)
    assert not packaged(tmp_path / ".lambdad" / "blobs" / "x", tmp_path)
    assert not packaged(tmp_path / "pkg" / "mod.pyc", tmp_path)  # dev: a save's droppings


def test_a_build_copy_leaves_it_behind(tmp_path: Path) -> None:
    _project(tmp_path / "src")
    shutil.copytree(tmp_path / "src", tmp_path / "build", ignore=ignore_for_copy)
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["app.py", "pkg"]
