"""Issue 11 (items 4 and 9) as a tenant performs them, through boto3 on a real server:
archives that used to stop the server from restarting, to cost a minute of CPU, or to
fail every invoke; code downloads by digest; a full disk; a corrupt database."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from e2e.conftest import ServerFactory
from e2e.helpers import (
    LAMBDAD,
    OTHER,
    PRIMARY,
    LambdadServer,
    TestCredential,
    handler_zip,
    role_for,
    send,
    signing_clock,
)

Create = Callable[..., dict[str, Any]]


def deep_zip(depth: int, entries: int = 1, size: int = 1) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
        for i in range(entries):
            zf.writestr("d/" * depth + f"f{i}", os.urandom(size))
    return buf.getvalue()


def lying_zip() -> bytes:
    """A valid function whose headers declare 1,000 bytes for a member that
    decompresses to 1 MB (the CRC-32 is of the whole)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
        zf.writestr("big.bin", bytes(1 << 20))
        local = zf.getinfo("big.bin").header_offset
    data = bytearray(buf.getvalue())
    central = data.rindex(b"PK\x01\x02")  # big.bin's entry is the last one
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    return bytes(data)


def assert_invalid(exc: pytest.ExceptionInfo[ClientError], fragment: str) -> None:
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidParameterValueException"
    assert fragment in err["Error"]["Message"]


# -- item 4: archives -------------------------------------------------------------------


def test_a_1500_level_zip_is_refused_and_restart_survives_an_old_deep_tree(
    lambdad_factory: ServerFactory, tmp_path: Path
) -> None:
    server = lambdad_factory()
    client = server.client()
    with pytest.raises(ClientError) as info:
        client.create_function(
            FunctionName="deep",
            Runtime="python3.12",
            Role=role_for(PRIMARY.account_id),
            Handler="app.handler",
            Code={"ZipFile": deep_zip(1500)},
        )
    assert_invalid(info, "1501 levels deep; at most 256")
    assert server.stop() == 0

    # What an older lambdad left behind for a deleted function: its extracted tree,
    # 1,500 levels deep (read-only, as the cache makes it). Restart must sweep it.
    stale = server.data_dir / "code" / ("f" * 64)
    stale.mkdir(parents=True)
    fd = os.open(stale, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.chmod("d", 0o555, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)

    server.start()
    assert not stale.exists()
    assert "RecursionError" not in server.stderr()
    created = server.client().create_function(
        FunctionName="after",
        Runtime="python3.12",
        Role=role_for(PRIMARY.account_id),
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    assert created["FunctionName"] == "after"


def test_a_30_mb_zip_2000_levels_deep_is_refused_in_seconds(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    archive = deep_zip(2000, entries=4000, size=100)
    assert len(archive) > 30_000_000
    started = time.monotonic()
    with pytest.raises(ClientError) as info:
        lambdad.client().create_function(
            FunctionName=unique_name(),
            Runtime="python3.12",
            Role=role_for(PRIMARY.account_id),
            Handler="app.handler",
            Code={"ZipFile": archive},
        )
    elapsed = time.monotonic() - started
    assert_invalid(info, "levels deep")
    # 61 s of server CPU before the checks were linear; the upload itself is most of this.
    assert elapsed < 15, elapsed


def test_a_deep_but_allowed_zip_runs(new_function: Create, lambdad: LambdadServer) -> None:
    fn = new_function(deep_zip(250, entries=3))
    out = lambdad.client().invoke(FunctionName=fn["FunctionName"], Payload=b'{"ok": 1}')
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    assert json.loads(out["Payload"].read()) == {"ok": 1}


def test_a_zip_lying_about_sizes_is_refused_at_upload(
    lambdad: LambdadServer, unique_name: Callable[[str], str], new_function: Create
) -> None:
    archive = lying_zip()
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:  # it does lie
        assert zf.getinfo("big.bin").file_size == 1000
    client = lambdad.client()
    with pytest.raises(ClientError) as info:
        client.create_function(
            FunctionName=unique_name(),
            Runtime="python3.12",
            Role=role_for(PRIMARY.account_id),
            Handler="app.handler",
            Code={"ZipFile": archive},
        )
    assert_invalid(info, "Could not unzip uploaded file")

    fn = new_function()
    with pytest.raises(ClientError) as info:
        client.update_function_code(FunctionName=fn["FunctionName"], ZipFile=archive)
    assert_invalid(info, "Could not unzip uploaded file")
    with pytest.raises(ClientError) as info:
        client.publish_layer_version(LayerName=unique_name(), Content={"ZipFile": archive})
    assert_invalid(info, "Could not unzip uploaded file")


def test_a_zip_with_a_bad_crc_is_refused_at_upload(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    archive = buf.getvalue().replace(b"return event", b"return EVENT")
    assert zlib.crc32(b"return EVENT") != zlib.crc32(b"return event")
    with pytest.raises(ClientError) as info:
        lambdad.client().create_function(
            FunctionName=unique_name(),
            Runtime="python3.12",
            Role=role_for(PRIMARY.account_id),
            Handler="app.handler",
            Code={"ZipFile": archive},
        )
    assert_invalid(info, "Could not unzip uploaded file")


# -- item 9: downloads ------------------------------------------------------------------


def presign(server: LambdadServer, path: str, cred: TestCredential, expires: int = 600) -> str:
    request = AWSRequest(method="GET", url=server.endpoint + path)
    SigV4QueryAuth(cred.botocore(), "lambda", server.region, expires=expires).add_auth(request)
    return str(request.url)


def get(server: LambdadServer, url: str, headers: dict[str, str] | None = None) -> Any:
    parts = urlsplit(url)
    return send(server.endpoint, "GET", f"{parts.path}?{parts.query}", b"", headers or {})


def test_code_downloads_need_the_owner(
    lambdad: LambdadServer, new_function: Create, unique_name: Callable[[str], str]
) -> None:
    code = handler_zip(f"# {unique_name()}\ndef handler(e, c):\n    return e\n")
    fn = new_function(code)
    location = lambdad.client().get_function(FunctionName=fn["FunctionName"])["Code"]["Location"]
    path = urlsplit(location).path
    assert path.startswith("/_lambdad/code/")

    owner = get(lambdad, location)
    assert (owner.status, owner.body) == (200, code)
    assert lambdad.request("GET", path).body == code  # the owner's own signed request

    # Another account that knows the digest: unsigned, its own header signature, and its
    # own presigned URL are all refused, as is the owner's URL from another region.
    unsigned = send(lambdad.endpoint, "GET", path, b"", {})
    assert (unsigned.status, unsigned.error_type) == (403, "MissingAuthenticationTokenException")
    foreign = lambdad.request("GET", path, credential=OTHER)
    assert (foreign.status, foreign.error_type) == (403, "AccessDeniedException")
    foreign_url = get(lambdad, presign(lambdad, path, OTHER))
    assert (foreign_url.status, foreign_url.error_type) == (403, "AccessDeniedException")
    assert code not in foreign.body + foreign_url.body
    elsewhere = lambdad.request("GET", path, region="eu-west-1")
    assert elsewhere.status == 403

    # An expired link, and a link whose signature was tampered with.
    with signing_clock(datetime.now(UTC) - timedelta(minutes=11)):
        old = presign(lambdad, path, PRIMARY)
    assert get(lambdad, old).status == 403
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    assert get(lambdad, tampered).status == 403
    # Unknown digests answer the same as foreign ones: nothing to learn from the answer.
    nothing = lambdad.request("GET", "/_lambdad/code/" + "0" * 64, credential=OTHER)
    assert (nothing.status, nothing.error_type) == (403, "AccessDeniedException")


def test_layer_downloads_follow_the_layer_policy(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    owner = lambdad.client()
    other = lambdad.client(account=OTHER.account_id)
    name = unique_name()
    content = handler_zip(f"# {name}\n", module="python/shared")
    layer = owner.publish_layer_version(LayerName=name, Content={"ZipFile": content})
    try:
        path = urlsplit(layer["Content"]["Location"]).path
        assert get(lambdad, layer["Content"]["Location"]).body == content
        assert lambdad.request("GET", path, credential=OTHER).status == 403

        owner.add_layer_version_permission(
            LayerName=name,
            VersionNumber=layer["Version"],
            StatementId="share",
            Action="lambda:GetLayerVersion",
            Principal=OTHER.account_id,
        )
        shared = other.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])
        assert get(lambdad, shared["Content"]["Location"]).body == content

        owner.remove_layer_version_permission(
            LayerName=name, VersionNumber=layer["Version"], StatementId="share"
        )
        assert get(lambdad, shared["Content"]["Location"]).status == 403
    finally:
        owner.delete_layer_version(LayerName=name, VersionNumber=layer["Version"])


# -- item 9: a full disk, a corrupt database --------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs (root only), unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.root
def test_a_full_disk_answers_aws_errors_without_tracebacks(
    lambdad_factory: ServerFactory, small_disk: Path
) -> None:
    server = lambdad_factory(data_dir=small_disk / "data", env={"LAMBDAD_SANDBOX": "process"})
    client = server.client()
    made = client.create_function(
        FunctionName="small",
        Runtime="python3.12",
        Role=role_for(PRIMARY.account_id),
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    assert made["FunctionName"] == "small"
    # Fill the file system, then upload: the blob cannot be written.
    with (small_disk / "filler").open("wb") as filler:
        chunk = bytes(1 << 20)
        try:
            while True:
                filler.write(chunk)
                filler.flush()
        except OSError:
            pass
    archive = deep_zip(1, entries=1, size=2 << 20)
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            client.create_function(
                FunctionName="no-room",
                Runtime="python3.12",
                Role=role_for(PRIMARY.account_id),
                Handler="app.handler",
                Code={"ZipFile": archive},
            )
        err = info.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert err["Error"]["Code"] == "ServiceException"
        assert "out of storage space" in err["Error"]["Message"]
    # The first function's code was never extracted: its first invoke cannot be either.
    with pytest.raises(ClientError) as info:
        client.invoke(FunctionName="small", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ServiceException"
    assert "out of storage space" in info.value.response["Error"]["Message"]

    (small_disk / "filler").unlink()
    out = client.invoke(FunctionName="small", Payload=b'{"back": true}')
    assert json.loads(out["Payload"].read()) == {"back": True}
    assert server.stop() == 0
    log = server.stderr()
    assert "Traceback" not in log, log
    assert "file system is full" in log


@pytest.mark.parametrize("name", ["lambdad.db", "logs.db", "async.db"])
def test_a_corrupt_database_stops_serve_with_one_clear_line(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / name
    db.write_bytes(b"this is not a database, a tenant or a disk wrote it\n" * 200)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDAD_"))}
    env["LAMBDAD_CREDENTIALS"] = PRIMARY.entry

    proc = subprocess.run(
        [LAMBDAD, "serve", "--port", "0", "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if name in line]
    assert len(lines) == 1, proc.stderr
    assert str(db) in lines[0]
    assert "not a database" in lines[0], lines[0]
    assert "restore it from a backup" in lines[0]
    # Nothing it made outlives it: no /tmp disk of its data directory stays mounted.
    mounts = Path("/proc/self/mountinfo").read_text().split()
    assert not [m for m in mounts if m.startswith(str(data))], mounts
