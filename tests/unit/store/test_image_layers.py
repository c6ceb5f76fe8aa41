"""The checks every layer's entries pass before an image is unpacked."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lambdad.store.image_layers import (
    DEVICE,
    DIRECTORY,
    FIFO,
    LINK,
    REGULAR,
    SYMLINK,
    Entry,
    LayerRefused,
    check_entries,
    entries_of,
    scan_layer,
)

GOOD = [
    Entry("./", DIRECTORY),
    Entry("bin/", DIRECTORY),
    Entry("bin/busybox", REGULAR, 1000),
    Entry("bin/sh", SYMLINK, linkname="busybox"),
    Entry("usr/bin/python", SYMLINK, linkname="/usr/bin/python3"),  # absolute: allowed
    Entry("lib/x", SYMLINK, linkname="../usr/lib/x"),
    Entry("bin/ash", LINK, linkname="bin/busybox"),
    Entry("etc/.wh.passwd", REGULAR),
    Entry("var/.wh..wh..opq", REGULAR),
    Entry("run/fifo", FIFO),
]


def test_an_ordinary_layer_passes_and_counts_its_size() -> None:
    assert check_entries(GOOD, already=5) == 1005


@pytest.mark.parametrize(
    "entry",
    [
        Entry("../etc/passwd", REGULAR),
        Entry("a/../../b", REGULAR),
        Entry("/etc/passwd", REGULAR),
        Entry("x", LINK, linkname="../../etc/shadow"),
        Entry("x", LINK, linkname="/etc/shadow"),
        Entry("a/b", SYMLINK, linkname="../../host"),
        Entry("sda", DEVICE),
        Entry("odd", "other"),
    ],
)
def test_hostile_entries_are_refused(entry: Entry) -> None:
    with pytest.raises(LayerRefused):
        check_entries([*GOOD, entry])


def test_the_uncompressed_limit_covers_all_layers() -> None:
    with pytest.raises(LayerRefused, match="larger than 100 bytes"):
        check_entries([Entry("big", REGULAR, 60)], already=50, limit=100)


def test_a_real_tar_is_read_and_checked(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
        node = tarfile.TarInfo("null")
        node.type = tarfile.CHRTYPE
        tar.addfile(node)
    blob = tmp_path / "layer"
    blob.write_bytes(raw.getvalue())
    assert [e.kind for e in entries_of(blob)] == [REGULAR, DEVICE]
    gz = "application/vnd.oci.image.layer.v1.tar+gzip"
    with pytest.raises(LayerRefused, match="device node 'null'"):
        scan_layer(blob, gz, 0)
    with pytest.raises(LayerRefused, match="media type"):
        scan_layer(blob, "application/vnd.oci.image.layer.v1.tar+zstd", 0)
    blob.write_bytes(b"not a tar")
    with pytest.raises(LayerRefused, match="not a readable tar"):
        scan_layer(blob, gz, 0)


def test_a_layer_of_too_many_entries_is_refused() -> None:
    many = [Entry(f"f{i}", REGULAR) for i in range(4)]
    assert check_entries(many, max_entries=4) == 0
    with pytest.raises(LayerRefused, match="more than 3 entries"):
        check_entries(many, max_entries=3)
