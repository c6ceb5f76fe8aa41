"""The image store's pure parts and the root preparation that follows no link."""

from __future__ import annotations

import os
from pathlib import Path

from lambdad.store.images import (
    ImageStore,
    compressed_size,
    is_image_manifest,
    prepare_mount_points,
)


def test_one_image_manifest_only() -> None:
    assert is_image_manifest({"mediaType": "application/vnd.oci.image.manifest.v1+json"})
    assert is_image_manifest({"config": {}, "layers": []})  # mediaType is optional
    assert not is_image_manifest({"mediaType": "application/vnd.oci.image.index.v1+json"})
    assert not is_image_manifest({"manifests": [], "config": {}, "layers": []})
    assert not is_image_manifest([])


def test_the_declared_layer_sizes_are_summed() -> None:
    layers = [{"size": 10}, {"size": -5}, {"size": "big"}, "junk", {"size": 7}]
    assert compressed_size({"layers": layers}) == 17
    assert compressed_size({}) == 0


def test_mounted_etc_files_become_plain_files_without_following_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("host secret")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink(outside, root / "etc" / "resolv.conf")
    prepare_mount_points(root)
    assert (root / "etc" / "hosts").read_text() == ""
    assert not (root / "etc" / "resolv.conf").is_symlink()
    assert outside.read_text() == "host secret"


def test_an_etc_link_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    root = tmp_path / "rootfs"
    root.mkdir()
    os.symlink(target, root / "etc")
    prepare_mount_points(root)
    assert list(target.iterdir()) == []


class Versions:
    """The two store methods ``sweep`` reads."""

    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    def iter_all_functions(self):
        yield "123456789012", "us-east-1", "f", {}

    def list_versions(self, account: str, region: str, name: str):
        return [(str(i), doc) for i, doc in enumerate(self.docs)]


def test_sweep_keeps_the_images_versions_run(tmp_path: Path) -> None:
    kept, gone = "a" * 64, "b" * 64
    for name in (kept, gone, f".pull-{kept}-1234"):
        (tmp_path / name / "rootfs").mkdir(parents=True)
    store = Versions([{"_image": {"Digest": f"sha256:{kept}"}}, {"CodeSha256Hex": "c"}])
    assert ImageStore(tmp_path, None).sweep(store) == 1  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == [kept]
