"""The image store's pure parts and the root preparation that follows no link."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from lambdad.errors import AwsError, ServiceException
from lambdad.model.image_uri import ImageRef, Registry
from lambdad.store.images import (
    ImageStore,
    RootRefused,
    _ToolFailed,
    compressed_size,
    is_image_manifest,
    prepare_mount_points,
    strip_modes,
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


def test_an_etc_link_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    root = tmp_path / "rootfs"
    root.mkdir()
    for link in (target, "usr/etc"):
        os.symlink(link, root / "etc")
        with pytest.raises(RootRefused):
            prepare_mount_points(root)
        os.unlink(root / "etc")
    assert list(target.iterdir()) == []


def test_the_preload_list_becomes_an_empty_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("/host.so\n")
    for kind in ("file", "link", "dir"):
        root = tmp_path / kind / "rootfs"
        (root / "etc").mkdir(parents=True)
        preload = root / "etc" / "ld.so.preload"
        if kind == "file":
            preload.write_text("/evil.so\n")
        elif kind == "link":
            os.symlink(outside, preload)
        else:
            (preload / "sub").mkdir(parents=True)
        prepare_mount_points(root)
        assert not preload.is_symlink()
        assert preload.read_bytes() == b""
    assert outside.read_text() == "/host.so\n"
    root = tmp_path / "none" / "rootfs"
    root.mkdir(parents=True)
    prepare_mount_points(root)  # no etc at all: made, with the files
    assert (root / "etc" / "ld.so.preload").read_bytes() == b""


def test_no_file_stays_setuid_setgid_or_writable_by_others(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("")
    outside.chmod(0o4777)
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin").chmod(0o2777)
    modes = {"bin/su": 0o4755, "bin/wall": 0o2755, "shared": 0o777, "plain": 0o640}
    for name, mode in modes.items():
        (root / name).write_text("")
        (root / name).chmod(mode)
    os.mkfifo(root / "fifo")
    (root / "fifo").chmod(0o666)
    os.symlink(outside, root / "link")
    os.symlink(tmp_path, root / "dir-link")
    strip_modes(root)
    got = {name: stat.S_IMODE((root / name).stat().st_mode) for name in modes}
    assert got == {"bin/su": 0o755, "bin/wall": 0o755, "shared": 0o775, "plain": 0o640}
    assert stat.S_IMODE((root / "bin").stat().st_mode) == 0o775
    assert stat.S_IMODE((root / "fifo").lstat().st_mode) == 0o664
    assert stat.S_IMODE(outside.stat().st_mode) == 0o4777  # no link followed


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
    (tmp_path / kept / "rootfs" / "suid").write_text("")
    (tmp_path / kept / "rootfs" / "suid").chmod(0o4755)
    tmp_path.chmod(0o755)
    assert ImageStore(tmp_path, None).sweep(store) == 1  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == [kept]
    # What an earlier lambdad unpacked is made private and prepared as a new pull.
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / kept).stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / kept / "rootfs" / "suid").stat().st_mode) == 0o755
    assert (tmp_path / kept / "rootfs" / "etc" / "ld.so.preload").read_bytes() == b""
    # Once: an image prepared is not walked again at the next start.
    (tmp_path / kept / "rootfs" / "suid").chmod(0o4755)
    ImageStore(tmp_path, None).sweep(store)  # type: ignore[arg-type]
    assert stat.S_IMODE((tmp_path / kept / "rootfs" / "suid").stat().st_mode) == 0o4755


def test_a_registry_refusal_is_access_denied_and_a_local_one_is_not(tmp_path: Path) -> None:
    registry = Registry("127.0.0.1:5000", tls=False)
    ref = ImageRef("u", "a/app", "v1", None, registry, "127.0.0.1:5000/a/app")
    store = ImageStore(tmp_path, registry)
    answers = {
        "reading manifest v1 in 127.0.0.1:5000/a/app: unauthorized: authentication required": (
            "AccessDeniedException"
        ),
        'Error: "denied: requested access to the resource is denied"': "AccessDeniedException",
        "invalid status code from registry 403 (Forbidden)": "AccessDeniedException",
        "open /etc/lambdad/auth.json: permission denied": "InvalidParameterValueException",
        "skopeo timed out": "InvalidParameterValueException",
    }
    for text, code in answers.items():

        def fail(argv: list[str], text: str = text) -> bytes:
            raise _ToolFailed(text)

        store._run = fail  # type: ignore[method-assign]
        with pytest.raises(AwsError) as caught:
            store.resolve(ref)
        assert type(caught.value).__name__ == code, text


def test_an_unpack_that_times_out_is_a_service_error(tmp_path: Path) -> None:
    registry = Registry("127.0.0.1:5000", tls=False)
    ref = ImageRef("u", "a/app", "v1", None, registry, "127.0.0.1:5000/a/app")
    store = ImageStore(tmp_path, registry)

    def umoci(argv: list[str]) -> bytes:
        raise _ToolFailed("umoci timed out")

    store._skopeo = lambda *a: b""  # type: ignore[method-assign]
    store._check_layout = lambda *a: {}  # type: ignore[method-assign]
    store._run = umoci  # type: ignore[method-assign]
    with pytest.raises(ServiceException):
        store.ensure(ref, "sha256:" + "c" * 64)
    assert list(tmp_path.iterdir()) == []  # the pull's directory removed


def test_close_kills_the_running_tools(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, None, timeout=60)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            store._run(["sleep", "50"])
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while not store._children and time.monotonic() < deadline:
        time.sleep(0.01)
    (child,) = store._children
    store.close()
    worker.join(10)
    assert not worker.is_alive()
    assert child.returncode is not None
    assert isinstance(failed[0], ServiceException)
    with pytest.raises(ServiceException):
        store._run(["true"])


def test_released_images_go_once_no_version_runs_them(tmp_path: Path) -> None:
    kept, gone = "a" * 64, "b" * 64
    for name in (kept, gone):
        (tmp_path / name / "rootfs").mkdir(parents=True)
    store = Versions([{"_image": {"Digest": f"sha256:{kept}"}}])
    images = ImageStore(tmp_path, None, grace=0)
    images.release(store, {f"sha256:{kept}", f"sha256:{gone}"})  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while (tmp_path / gone).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [p.name for p in tmp_path.iterdir()] == [kept]
    later = ImageStore(tmp_path, None)  # the default grace: nothing goes at once
    later.release(store, {f"sha256:{kept}"})  # type: ignore[arg-type]
    later.close()
    assert (tmp_path / kept).exists()
