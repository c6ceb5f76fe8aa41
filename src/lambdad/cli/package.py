"""``lambdad deploy``'s packaging: the local code directories a template names, zipped
(after installing their dependencies with ``--build``), uploaded to lambdad, and the
template rewritten to name the uploads. Progress bars on the zipping and the upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from lambdad.cli.code_dir import code_files, ignore_for_copy
from lambdad.cli.target import Target
from lambdad.model.artifacts import ARTIFACT_BUCKET, ARTIFACTS_PATH

# (resource type, property, the S3 form's bucket/key member names)
_LOCAL_CODE = (
    ("AWS::Serverless::Function", "CodeUri", ("Bucket", "Key")),
    ("AWS::Serverless::LayerVersion", "ContentUri", ("Bucket", "Key")),
    ("AWS::Lambda::Function", "Code", ("S3Bucket", "S3Key")),
    ("AWS::Lambda::LayerVersion", "Content", ("S3Bucket", "S3Key")),
)
_CHUNK = 256 * 1024


def local_code(
    doc: dict[str, Any], base: Path
) -> list[tuple[dict[str, Any], str, Path, tuple[str, str]]]:
    """(properties, member, local path, S3 member names) for each local code location."""
    found = []
    global_uri = ((doc.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    for res in (doc.get("Resources") or {}).values():
        if not isinstance(res, dict):
            continue
        for type_, member, names in _LOCAL_CODE:
            if res.get("Type") != type_:
                continue
            props = res.setdefault("Properties", {})
            value = props.get(member)
            if value is None and member == "CodeUri" and "InlineCode" not in props:
                # As SAM CLI does: no CodeUri is the template's own directory.
                value = global_uri or "."
            if isinstance(value, str) and not value.startswith("s3://"):
                found.append((props, member, (base / value).resolve(), names))
    return found


def zip_directory(path: Path, progress: Progress, build: bool) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lambdad-build-") as tmp:
        root = path
        if build:
            root = Path(tmp) / "build"
            shutil.copytree(path, root, ignore=ignore_for_copy)
            _install(root, progress)
        files = code_files(root)
        task = progress.add_task(f"zip {path.name}", total=len(files))
        buf = BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                info = zipfile.ZipInfo(str(f.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if os.access(f, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, f.read_bytes())
                progress.advance(task)
        return buf.getvalue()


def _install(root: Path, progress: Progress) -> None:
    if (root / "requirements.txt").is_file():
        task = progress.add_task(f"pip install ({root.name})", total=None)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "-r",
            "requirements.txt",
            "--target",
            ".",
        ]
        _run(cmd, root)
        progress.update(task, total=1, completed=1)
    if (root / "package.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise click.ClickException("--build: package.json needs npm, which is not on PATH")
        task = progress.add_task(f"npm install ({root.name})", total=None)
        _run([npm, "install", "--omit=dev", "--no-audit", "--no-fund"], root)
        progress.update(task, total=1, completed=1)


def _run(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"{' '.join(cmd[:4])} failed:\n{done.stderr.strip()}")


def upload(target: Target, data: bytes, label: str, progress: Progress) -> str:
    """PUT the archive to lambdad (signed for cloudformation); its key (SHA-256)."""
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = target.endpoint.rstrip("/") + ARTIFACTS_PATH
    request = AWSRequest(
        method="PUT", url=url, data=data, headers={"Content-Type": "application/zip"}
    )
    creds = Credentials(target.access_key_id, target.secret_access_key, target.session_token)
    SigV4Auth(creds, "cloudformation", target.region).add_auth(request)
    task = progress.add_task(f"upload {label}", total=len(data))

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]
            progress.advance(task, min(_CHUNK, len(data) - i))

    headers = {k: v for k, v in request.headers.items()}
    headers["Content-Length"] = str(len(data))
    req = urllib.request.Request(url, data=chunks(), headers=headers, method="PUT")
    try:
        with urllib.request.urlopen(req, timeout=300) as answer:
            key: str = json.loads(answer.read())["Key"]
    except urllib.error.HTTPError as exc:
        raise click.ClickException(
            f"upload of {label} refused: {exc.read().decode(errors='replace')[:500]}"
        ) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"cannot reach lambdad at {target.endpoint}: {exc.reason}"
        ) from None
    return key


def package(doc: dict[str, Any], base: Path, target: Target, build: bool) -> None:
    """Zip and upload every local code location of ``doc``; name the uploads in it."""
    places = local_code(doc, base)
    if not places:
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    uploaded: dict[Path, str] = {}
    with Progress(*columns, transient=False) as progress:
        for props, member, path, (bucket, key) in places:
            if path not in uploaded:
                if path.is_dir():
                    data = zip_directory(path, progress, build)
                elif path.is_file() and path.suffix in (".zip", ".jar"):
                    data = path.read_bytes()
                else:
                    raise click.ClickException(f"{member} {path}: no such directory or .zip file")
                uploaded[path] = upload(target, data, path.name, progress)
            props[member] = {bucket: ARTIFACT_BUCKET, key: uploaded[path]}
