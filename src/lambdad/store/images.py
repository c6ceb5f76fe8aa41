"""Container images: resolved to a digest on the operator's registry, pulled once per
digest and unpacked into the data directory, where environments take them as their root.

Debian's ``skopeo`` talks to the registry (``inspect --raw`` for the manifest, whose
SHA-256 is the image's digest; ``copy`` into an OCI layout, by that digest), and
``umoci raw unpack --rootless`` unpacks the layers in order (whiteouts applied, every
path resolved inside the root). Before umoci runs, every layer's tar headers are
checked (``image_layers``: names inside the root, no device nodes, the 10 GB limit).
Afterwards, without following any link in the root: no file or directory keeps a
setuid or setgid bit or write access for others (umoci keeps the layers' modes, and
the files are root's on the host), an image whose ``/etc`` is not a directory is
refused, and the few files an environment's sandbox mounts over (``/etc/hosts``,
``/etc/resolv.conf``, ``/etc/ld.so.preload``, bound empty) are made plain files.
Everything here is private to root (directories 0700).

skopeo runs with a fixed environment and never the server's ambient registry logins:
no credentials (``--no-creds``) unless the operator names an auth file for the
registry (``LAMBDAD_IMAGE_REGISTRY_AUTH_FILE``). Which registry and repository a
function may name is decided before (``model/image_uri.py``).

Layout: ``<root>/<digest hex>/{rootfs,image.json}``; a pull works in
``<root>/.pull-<hex>-<random>`` and is renamed into place whole, so a crash leaves
only a ``.pull-*`` directory, which ``sweep`` removes at start-up with the images no
function version runs any longer. While the server runs, an image the control plane
``release``s (its function deleted, its code updated, its create refused) is removed
once no version runs it after ``grace`` seconds (environments of the version it left
are retired by then), at the next release or pull.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdad.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ServiceException,
)
from lambdad.model.image_config import ImageRun, ImageSettings, parse_image_settings
from lambdad.model.image_uri import ImageRef, Registry
from lambdad.store import image_layers, trees
from lambdad.store.base import MetadataStore

log = logging.getLogger(__name__)

MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
# What skopeo and umoci run with: nothing of the server's environment.
TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "HOME": "/nonexistent"}
# Files a sandbox binds its own content over (sandbox/bwrap_image.py).
MOUNTED_ETC_FILES = ("hosts", "resolv.conf")
# What an image's loaders would preload: replaced by an empty file.
PRELOAD = "ld.so.preload"
# Mode bits no unpacked file keeps.
STRIPPED_MODES = stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH
PRIVATE = 0o700
# How long a released image stays (the longest invocation, twice): environments of the
# version that left it are retired by then.
RELEASE_GRACE_S = 1800.0
LOCK_STRIPES = 64
# Beside an image's rootfs: its modes stripped and mount points made (by this lambdad).
PREPARED = "prepared-v1"
# The registry's own refusals as skopeo reports them: the Docker registry API's error
# codes (``unauthorized: ...``, ``denied: ...``) or a bare 401/403 status, never a
# local "permission denied" (on the auth file, say).
REGISTRY_REFUSED = re.compile(
    r"(?:^|[\s:(\"])(?<!permission )(?:unauthorized|denied): |status code from registry 40[13]\b",
    re.MULTILINE,
)
SHUTTING_DOWN = "Lambda could not prepare the function's image: the server is shutting down."


@dataclass(frozen=True, slots=True)
class UnpackedImage:
    digest: str
    rootfs: Path
    settings: ImageSettings


def unsupported(uri: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"The image manifest, config or layer media type for the source image {uri} is not "
        "supported."
    )


class ImageStore:
    def __init__(
        self,
        root: Path,
        registry: Registry | None,
        *,
        auth_file: str = "",
        max_uncompressed: int = image_layers.MAX_UNCOMPRESSED,
        timeout: float = 900.0,
        grace: float = RELEASE_GRACE_S,
    ) -> None:
        self.root = root
        self.registry = registry
        self.auth_file = auth_file
        self.max_uncompressed = max_uncompressed
        self.timeout = timeout
        self.grace = grace
        # One pull (or removal) per digest at a time: a fixed set of locks, by digest.
        self._locks = tuple(threading.Lock() for _ in range(LOCK_STRIPES))
        self._guard = threading.Lock()
        self._released: dict[str, float] = {}  # digest -> when (monotonic)
        self._timer: threading.Timer | None = None
        self._children: set[subprocess.Popen[bytes]] = set()
        self._closed = False

    # -- resolve ---------------------------------------------------------------------------

    def resolve(self, ref: ImageRef) -> str:
        """The digest (``sha256:<hex>``) the image's tag (or digest) names now."""
        raw = self._skopeo(ref, "inspect", "--raw", f"docker://{ref.reference}")
        try:
            manifest = json.loads(raw)
        except ValueError:
            raise unsupported(ref.uri) from None
        if not is_image_manifest(manifest):
            # An index (several platforms) included: Lambda takes one image manifest.
            raise unsupported(ref.uri)
        if compressed_size(manifest) > self.max_uncompressed:
            # Refused before anything is downloaded (the uncompressed size is checked
            # layer by layer once it is).
            raise InvalidParameterValueException(
                f"The source image {ref.uri} cannot be used: it is larger than "
                f"{self.max_uncompressed} bytes."
            )
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if ref.digest is not None and ref.digest != digest:
            raise InvalidParameterValueException(
                f"Source image {ref.uri} does not exist. Provide a valid source image."
            )
        return digest

    # -- pull and unpack -------------------------------------------------------------------

    def lookup(self, digest: str) -> UnpackedImage | None:
        """The image of ``digest`` if it is unpacked here."""
        home = self.root / _hex(digest)
        try:
            settings = parse_image_settings(json.loads((home / "image.json").read_text()))
        except (OSError, ValueError):
            return None
        return UnpackedImage(digest, home / "rootfs", settings)

    def ensure(self, ref: ImageRef, digest: str) -> UnpackedImage:
        """The image ``ref`` resolved to (``digest``), pulled and unpacked if it is not
        yet. Blocking: call it from a worker thread."""
        with self._guard:
            self._released.pop(digest, None)
        found = self.lookup(digest)
        if found is not None:
            return found
        with self._lock(digest):
            found = self.lookup(digest)
            if found is None:
                self._pull(ref, digest)
                found = self.lookup(digest)
        if found is None:
            raise ServiceException("Lambda could not prepare the function's image.")
        return found

    def ensure_run(self, run: ImageRun) -> UnpackedImage:
        """The image a version runs, pulled again from the registry (by its digest) if it
        is no longer unpacked here. Blocking."""
        found = self.lookup(run.digest)
        if found is not None:
            return found
        if self.registry is None:
            raise ServiceException("Lambda could not prepare the function's image.")
        name = f"{self.registry.host}/{run.repository}"
        uri = f"{name}@{run.digest}"
        ref = ImageRef(uri, run.repository, None, run.digest, self.registry, name)
        return self.ensure(ref, run.digest)

    def _pull(self, ref: ImageRef, digest: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, PRIVATE)
        work = self.root / f".pull-{_hex(digest)}-{uuid.uuid4().hex[:8]}"
        work.mkdir(mode=PRIVATE)
        os.chmod(work, PRIVATE)
        try:
            layout = work / "oci"
            self._skopeo(
                ref, "copy", "--quiet", f"docker://{ref.pinned(digest)}", f"oci:{layout}:img"
            )
            config = self._check_layout(ref, layout)
            (work / "image.json").write_text(json.dumps(config))
            rootfs = work / "rootfs"
            unpack = ["umoci", "raw", "unpack", "--rootless", "--image", f"{layout}:img"]
            try:
                self._run([*unpack, str(rootfs)])
            except _ToolFailed as exc:
                log.error("umoci failed: %s", exc.stderr[-500:])
                raise ServiceException("Lambda could not unpack the function's image.") from None
            strip_modes(rootfs)
            try:
                prepare_mount_points(rootfs)
            except RootRefused as exc:
                raise InvalidParameterValueException(
                    f"The source image {ref.uri} cannot be used: {exc}."
                ) from None
            trees.remove_tree(layout)
            (work / PREPARED).write_text("")
            os.rename(work, self.root / _hex(digest))
        except OSError as exc:
            trees.remove_quietly(work)
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return  # another process put it in place first
            log.error("unpacking image %s failed: %s", digest, exc)
            raise ServiceException("Lambda could not prepare the function's image.") from None
        except BaseException:
            trees.remove_quietly(work)
            raise
        log.info("image %s unpacked (%s)", digest, ref.uri)

    def _check_layout(self, ref: ImageRef, layout: Path) -> dict[str, Any]:
        """The image configuration of the OCI layout skopeo wrote, every layer checked."""
        try:
            index = _read_json(layout / "index.json")
            manifest = _read_json(_blob(layout, index["manifests"][0]["digest"]))
            config = _read_json(_blob(layout, manifest["config"]["digest"]))
            layers = [(str(x["digest"]), str(x["mediaType"])) for x in manifest["layers"]]
            if not isinstance(config, dict):
                raise ValueError("config")
        except (KeyError, IndexError, TypeError, ValueError, OSError):
            raise unsupported(ref.uri) from None
        total = 0
        for layer_digest, media_type in layers:
            try:
                total = image_layers.scan_layer(
                    _blob(layout, layer_digest), media_type, total, self.max_uncompressed
                )
            except image_layers.LayerRefused as exc:
                if str(exc).startswith("layer media type"):
                    raise unsupported(ref.uri) from None
                raise InvalidParameterValueException(
                    f"The source image {ref.uri} cannot be used: layer {layer_digest}: {exc}."
                ) from None
        out: dict[str, Any] = config
        return out

    def _lock(self, digest: str) -> threading.Lock:
        return self._locks[int(hashlib.sha256(digest.encode()).hexdigest()[:8], 16) % LOCK_STRIPES]

    def release(self, store: MetadataStore, digests: Iterable[str]) -> None:
        """``digests`` a version stopped running: each removed once no version runs it,
        ``grace`` seconds on, by a timer thread (never the caller's: it may be the event
        loop's)."""
        now = time.monotonic()
        with self._guard:
            for digest in digests:
                self._released.setdefault(digest, now)
            if self._timer is None and self._released and not self._closed:
                self._schedule(store)

    def _schedule(self, store: MetadataStore) -> None:
        first = min(self._released.values())
        delay = max(0.0, first + self.grace - time.monotonic())
        self._timer = threading.Timer(delay, self._collect, (store,))
        self._timer.daemon = True
        self._timer.start()

    def _collect(self, store: MetadataStore) -> None:
        now = time.monotonic()
        with self._guard:
            self._timer = None
            due = [d for d, t in self._released.items() if now - t >= self.grace]
            for digest in due:
                del self._released[digest]
        try:
            used = digests_in_use(store) if due else set()
            removed = 0
            for digest in due:
                if digest in used:
                    continue
                with self._lock(digest):
                    home = self.root / _hex(digest)
                    if home.exists():
                        trees.remove_quietly(home)
                        removed += 1
            if removed:
                log.info("removed %d images no function version runs", removed)
        except Exception:  # the store closed under it (shutdown): the next start sweeps
            log.exception("removing released images failed")
        with self._guard:
            if self._timer is None and self._released and not self._closed:
                self._schedule(store)

    def sweep(self, store: MetadataStore) -> int:
        """At start-up, before any environment runs: remove pulls a crash cut short and
        the images no function version runs any longer; the number of images removed."""
        if not self.root.is_dir():
            return 0
        used = {_hex(d) for d in digests_in_use(store)}
        removed = 0
        os.chmod(self.root, PRIVATE)
        for entry in self.root.iterdir():
            if entry.name.startswith(".pull-"):
                trees.remove_quietly(entry)
            elif entry.name not in used:
                trees.remove_quietly(entry)
                removed += 1
            else:
                self._secure(entry)
        if removed:
            log.info("removed %d images no function version runs", removed)
        return removed

    def _secure(self, home: Path) -> None:
        """An image unpacked by an earlier lambdad made as private as a new pull's (once:
        the walk of its files is not done again)."""
        try:
            os.chmod(home, PRIVATE)
            if (home / PREPARED).exists():
                return
            strip_modes(home / "rootfs")
            prepare_mount_points(home / "rootfs")
            (home / PREPARED).write_text("")
        except (OSError, RootRefused) as exc:
            log.warning("image %s cannot be prepared (%s): its functions will not run", home, exc)

    # -- the tools -------------------------------------------------------------------------

    def _skopeo(self, ref: ImageRef, command: str, *args: str) -> bytes:
        # copy names its options for the source (--src-...), inspect plainly.
        side = "src-" if command == "copy" else ""
        creds = [f"--{side}authfile", self.auth_file] if self.auth_file else [f"--{side}no-creds"]
        verify = f"--{side}tls-verify={str(ref.registry.tls).lower()}"
        argv = ["skopeo", "--insecure-policy", command, verify, *creds, *args]
        try:
            return self._run(argv)
        except _ToolFailed as exc:
            text = exc.stderr
            if "manifest unknown" in text or "name unknown" in text or "not found" in text:
                raise InvalidParameterValueException(
                    f"Source image {ref.uri} does not exist. Provide a valid source image."
                ) from None
            if REGISTRY_REFUSED.search(text):
                raise AccessDeniedException(
                    "Lambda does not have permission to access the ECR image. Check the ECR "
                    "permissions."
                ) from None
            log.warning("skopeo %s %s failed: %s", command, ref.uri, text.strip()[-500:])
            raise InvalidParameterValueException(
                f"Lambda could not reach the image registry for {ref.uri}. Try again later."
            ) from None

    def _run(self, argv: list[str]) -> bytes:
        tool = shutil.which(argv[0], path=TOOL_ENV["PATH"])
        if tool is None:
            raise ServiceException(
                f"lambdad cannot run container images: {argv[0]} is not installed "
                f"(apt-get install {argv[0]})."
            )
        with self._guard:
            if self._closed:
                raise ServiceException(SHUTTING_DOWN)
            proc = subprocess.Popen(
                [tool, *argv[1:]],
                env=TOOL_ENV,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self._children.add(proc)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise _ToolFailed(f"{argv[0]} timed out") from None
        finally:
            with self._guard:
                self._children.discard(proc)
        if self._closed:
            raise ServiceException(SHUTTING_DOWN)
        if proc.returncode != 0:
            raise _ToolFailed(err.decode(errors="replace"))
        return out

    def close(self) -> None:
        """At shutdown: the skopeo and umoci processes still running are killed (their
        pulls fail) and no more start."""
        with self._guard:
            self._closed = True
            running = list(self._children)
            if self._timer is not None:
                self._timer.cancel()
        for proc in running:
            proc.kill()  # a no-op for one that has just ended


class _ToolFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def digests_in_use(store: MetadataStore) -> set[str]:
    """The image digests the stored function versions run."""
    used: set[str] = set()
    for account, region, name, _ in store.iter_all_functions():
        used |= version_digests(*(doc for _, doc in store.list_versions(account, region, name)))
    return used


def version_digests(*docs: dict[str, Any]) -> set[str]:
    """The image digests ``docs`` (version documents) run."""
    out: set[str] = set()
    for doc in docs:
        image = doc.get("_image")
        if isinstance(image, dict) and image.get("Digest"):
            out.add(str(image["Digest"]))
    return out


def is_image_manifest(manifest: Any) -> bool:
    """Whether ``manifest`` is one image's (an OCI manifest may leave its mediaType out:
    then it is one by its members, and not an index)."""
    if not isinstance(manifest, dict):
        return False
    media_type = manifest.get("mediaType")
    if media_type is None:
        return "config" in manifest and "layers" in manifest and "manifests" not in manifest
    return media_type in MANIFEST_TYPES


def compressed_size(manifest: dict[str, Any]) -> int:
    """The layers' size as the manifest declares it (what a pull downloads)."""
    total = 0
    for layer in manifest.get("layers") or ():
        size = layer.get("size") if isinstance(layer, dict) else None
        total += size if isinstance(size, int) and size > 0 else 0
    return total


class RootRefused(Exception):
    """An unpacked root no sandbox runs."""


def prepare_mount_points(rootfs: Path) -> None:
    """Make ``etc/hosts`` and ``etc/resolv.conf`` plain files (created empty, or
    replacing a link) and ``etc/ld.so.preload`` an empty one (whatever was there
    removed); ``etc`` must be a directory (created if the image has none). Every step
    relative to a directory descriptor, following no link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    root_fd = os.open(rootfs, flags)
    try:
        try:
            etc_fd = os.open("etc", flags, dir_fd=root_fd)
        except FileNotFoundError:
            os.mkdir("etc", 0o755, dir_fd=root_fd)
            etc_fd = os.open("etc", flags, dir_fd=root_fd)
        except OSError:
            # A link (etc -> usr/etc) would take the files bound over it elsewhere.
            raise RootRefused("its /etc is not a directory") from None
        try:
            for name in MOUNTED_ETC_FILES:
                _plain_file(etc_fd, name)
            _empty_file(etc_fd, PRELOAD)
        finally:
            os.close(etc_fd)
    finally:
        os.close(root_fd)


def strip_modes(rootfs: Path) -> None:
    """Clear the setuid, setgid and others' write bits of every file and directory
    under ``rootfs`` (links skipped, never followed; files changed through a descriptor
    opened without following links)."""
    for _, _dirs, files, dir_fd in os.fwalk(rootfs, follow_symlinks=False):
        mode = os.fstat(dir_fd).st_mode
        if mode & STRIPPED_MODES:
            os.fchmod(dir_fd, stat.S_IMODE(mode) & ~STRIPPED_MODES)
        for name in files:  # directories: when the walk reaches them; links: skipped
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode) or not st.st_mode & STRIPPED_MODES:
                continue
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
            fd = os.open(name, flags, dir_fd=dir_fd)
            try:
                os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & ~STRIPPED_MODES)
            finally:
                os.close(fd)


def _empty_file(dir_fd: int, name: str) -> None:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    elif st is not None:
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
    os.close(fd)


def _plain_file(dir_fd: int, name: str) -> None:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISREG(st.st_mode):
            return
        if stat.S_ISDIR(st.st_mode):
            return  # left as the image has it: the sandbox skips it
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
    os.close(fd)


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, value = str(digest).partition(":")
    if algorithm != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise ValueError(f"digest {digest!r}")
    return layout / "blobs" / "sha256" / value


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read(4 * 1024 * 1024))
