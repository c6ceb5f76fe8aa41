"""The data directory's operator files: written whole with mode 0600, changed under a
lock so that writers at once lose nothing, watched for changes at most so often."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from lambdad.store import json_file


def _load(path: Path) -> dict[str, int]:
    return json.loads(path.read_text()) if path.exists() else {}


def test_writers_at_once_lose_no_change(tmp_path: Path) -> None:
    path = tmp_path / "table.json"

    def add(worker: int) -> None:
        for i in range(20):
            entry = {f"{worker}-{i}": i}
            json_file.update(path, _load, json_file.write, lambda t, e=entry: t.update(e))

    threads = [threading.Thread(target=add, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_load(path)) == 6 * 20
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == [".table.json.lock", "table.json"]


def test_a_refused_change_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    json_file.write(path, {"a": 1})

    def refuse(table: dict[str, int]) -> None:
        table["b"] = 2
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        json_file.update(path, _load, json_file.write, refuse)
    assert _load(path) == {"a": 1}


def test_a_watch_looks_at_most_once_every_so_often(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    now = [0.0]
    watch = json_file.Watch(path, every=1.0, clock=lambda: now[0])
    assert watch.changed()  # the first look: read it (absent: empty)
    json_file.write(path, {"a": 1})
    assert not watch.changed()  # not looked at again within the second
    now[0] = 1.0
    assert watch.changed()
    assert not watch.changed()
    now[0] = 2.0
    assert not watch.changed()  # looked, unchanged
    json_file.write(path, {"a": 1})  # the same bytes, a new file: a change
    now[0] = 3.0
    assert watch.changed()
    path.unlink()
    now[0] = 4.0
    assert watch.changed()


def test_an_unthrottled_watch_looks_every_time(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    watch = json_file.Watch(path)
    assert watch.changed()
    assert not watch.changed()
    json_file.write(path, {})
    assert watch.changed()


def test_a_write_is_on_disk_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file's bytes are synced before it replaces the old one (a power loss
    cannot leave an empty file where the old one was), the directory after."""
    path = tmp_path / "table.json"
    seen: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        seen.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: Path) -> None:
        seen.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    json_file.write(path, {"a": 1})
    assert seen == ["fsync file", "replace", "fsync dir"]
    assert _load(path) == {"a": 1}
