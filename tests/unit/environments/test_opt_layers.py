"""/opt assembled from layers in order (lambdad.environments.layers)."""

from __future__ import annotations

import os
from pathlib import Path

from lambdad.environments.layers import merge_layers, opt_name


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root


def test_later_layers_overwrite_earlier_files(tmp_path: Path) -> None:
    one = tree(tmp_path / "one", {"python/mod.py": "one", "python/only1.py": "1", "bin/x": "1"})
    two = tree(tmp_path / "two", {"python/mod.py": "two", "lib/libz.so": "z"})
    (two / "bin").mkdir()
    (two / "bin" / "x").mkdir()  # a directory replaces the first layer's file
    target = tmp_path / "opt"
    merge_layers([one, two], target)
    assert (target / "python/mod.py").read_text() == "two"
    assert (target / "python/only1.py").read_text() == "1"
    assert (target / "lib/libz.so").read_text() == "z"
    assert (target / "bin/x").is_dir()
    assert not os.access(target / "python", os.W_OK) or os.geteuid() == 0
    assert oct((target / "python").stat().st_mode & 0o777) == oct(0o555)


def test_links_are_kept_as_links(tmp_path: Path) -> None:
    one = tree(tmp_path / "one", {"python/real.py": "r"})
    (one / "python" / "alias.py").symlink_to("real.py")
    target = tmp_path / "opt"
    merge_layers([one], target)
    assert os.readlink(target / "python/alias.py") == "real.py"
    assert (target / "python/alias.py").read_text() == "r"


def test_order_names_the_directory() -> None:
    assert opt_name(["a", "b"]) != opt_name(["b", "a"])
    assert opt_name(["a", "b"]) == opt_name(["a", "b"])
