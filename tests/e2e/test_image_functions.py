"""Container-image functions as a user runs them: an image built without Docker and
pushed to an OCI registry (Debian's docker-registry, started here) that the server maps
ECR URIs to (``LAMBDAD_IMAGE_REGISTRY``); CreateFunction with ``PackageType: Image`` and
an ECR ``ImageUri`` through boto3, invokes, ``ImageConfig``, an update to a new tag, and
the requests AWS refuses."""

from __future__ import annotations

import base64
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import (
    OTHER,
    PRIMARY,
    ROLE,
    LambdadServer,
    client_env,
    handler_zip,
    run_lambdad,
    serving,
)
from e2e.image_side import missing_tools, push_layer_image, push_runtime_image, registry
from e2e.sandboxes import require_full_isolation

require_full_isolation()
if missing_tools() is not None and os.environ.get("CI"):
    # make test installs them (DEBIAN_PACKAGES): on CI they must be there.
    raise RuntimeError(f"container image tests must run on CI: {missing_tools()}")
pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=missing_tools() or "")

ACCOUNT = PRIMARY.account_id
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def registry_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, registry_address: str
) -> Iterator[LambdadServer]:
    env = {"LAMBDAD_IMAGE_REGISTRY": f"http://{registry_address}"}
    data = tmp_path_factory.mktemp("lambdad-images") / "data"
    with serving(LambdadServer(data, env=env)) as started:
        yield started


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, registry_address: str) -> str:
    """Tags v1 and v2 of ``<account>/app`` pushed; the repository's address."""
    work = tmp_path_factory.mktemp("images")
    repository = f"{registry_address}/{ACCOUNT}/app"
    push_runtime_image(work / "v1", f"{repository}:v1", {"MESSAGE": "one", "GREETING": "image"})
    push_runtime_image(work / "v2", f"{repository}:v2", {"MESSAGE": "two", "GREETING": "image"})
    return repository


def invoke(lam: Any, name: str, event: Any) -> tuple[dict[str, Any], str]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    assert "FunctionError" not in out, out["Payload"].read()
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_image_function_runs_its_image_and_takes_a_new_tag(
    server: LambdadServer, images: str
) -> None:
    lam = server.client()
    created = lam.create_function(
        FunctionName="image-app",
        PackageType="Image",
        Code={"ImageUri": f"{ECR}/app:v1"},
        Role=ROLE,
        Environment={"Variables": {"GREETING": "function"}},
    )
    assert created["PackageType"] == "Image"
    assert "Runtime" not in created
    assert "Handler" not in created
    lam.get_waiter("function_active_v2").wait(FunctionName="image-app")
    got = lam.get_function(FunctionName="image-app")
    code = got["Code"]
    assert code["RepositoryType"] == "ECR"
    assert code["ImageUri"] == f"{ECR}/app:v1"
    digest = code["ResolvedImageUri"].removeprefix(f"{ECR}/app@sha256:")
    assert len(digest) == 64
    assert got["Configuration"]["CodeSha256"] == digest

    answer, log = invoke(lam, "image-app", {"n": 1})
    # The image's ENV under the function's variables; its ENTRYPOINT + CMD; its WORKDIR;
    # an unprivileged uid; Lambda's own variables.
    assert answer["message"] == "one"
    assert answer["greeting"] == "function"
    assert answer["event"] == {"n": 1}
    assert answer["args"] == "app.handler"
    assert answer["cwd"] == "/var/task"
    assert answer["uid"] != "0"
    assert answer["execution_env"] == "AWS_Lambda_Image"
    assert answer["handler"] == "app.handler"
    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
    assert "Init Duration" in report

    # ImageConfig overrides the image's CMD and WORKDIR.
    lam.update_function_configuration(
        FunctionName="image-app",
        ImageConfig={"Command": ["other.handler"], "WorkingDirectory": "/tmp"},
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="image-app")
    config = lam.get_function_configuration(FunctionName="image-app")
    assert config["ImageConfigResponse"]["ImageConfig"]["Command"] == ["other.handler"]
    answer, _ = invoke(lam, "image-app", {})
    assert (answer["args"], answer["cwd"]) == ("other.handler", "/tmp")
    assert answer["handler"] == "other.handler"

    lam.update_function_code(FunctionName="image-app", ImageUri=f"{ECR}/app:v2")
    lam.get_waiter("function_updated_v2").wait(FunctionName="image-app")
    answer, _ = invoke(lam, "image-app", {})
    assert answer["message"] == "two"
    code = lam.get_function(FunctionName="image-app")["Code"]
    assert code["ImageUri"] == f"{ECR}/app:v2"
    assert digest not in code["ResolvedImageUri"]

    version = lam.publish_version(FunctionName="image-app")["Version"]
    answer, _ = invoke(lam, f"image-app:{version}", {})
    assert answer["message"] == "two"
    lam.delete_function(FunctionName="image-app")


def test_requests_aws_refuses_are_refused(
    server: LambdadServer, images: str, registry_address: str
) -> None:
    lam = server.client()
    base = {"FunctionName": "image-refused", "Role": ROLE, "PackageType": "Image"}
    code, message = error_of(
        lam.create_function, **base, Code={"ImageUri": f"{ECR}/app:v1"}, Handler="app.handler"
    )
    assert (code, message) == (
        "InvalidParameterValueException",
        "Please don't provide Handler or Runtime or Layer when the intended function "
        "PackageType is Image.",
    )
    code, message = error_of(lam.create_function, **base, Code={"ImageUri": f"{ECR}/app:v9"})
    assert code == "InvalidParameterValueException"
    assert message == f"Source image {ECR}/app:v9 does not exist. Provide a valid source image."
    # Another account's repository, and the registry named directly by an account the
    # operator does not trust with it: neither reaches the registry.
    other = f"{OTHER.account_id}.dkr.ecr.us-east-1.amazonaws.com/app:v1"
    assert error_of(lam.create_function, **base, Code={"ImageUri": other})[0] == (
        "AccessDeniedException"
    )
    direct = f"{images}:v1"
    assert error_of(lam.create_function, **base, Code={"ImageUri": direct}) == (
        "InvalidParameterValueException",
        f"Source image {direct} is not valid. Provide a valid source image.",
    )

    lam.create_function(**base, Code={"ImageUri": f"{ECR}/app:v1"})
    try:
        code, message = error_of(
            lam.update_function_code, FunctionName="image-refused", ZipFile=handler_zip()
        )
        assert message == "Please provide ImageUri when updating a function with packageType Image."
    finally:
        lam.delete_function(FunctionName="image-refused")
    lam.create_function(
        FunctionName="zip-refused",
        Role=ROLE,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    try:
        code, message = error_of(
            lam.update_function_code, FunctionName="zip-refused", ImageUri=f"{ECR}/app:v1"
        )
        assert message == (
            "Please don't provide ImageUri when updating a function with packageType Zip."
        )
    finally:
        lam.delete_function(FunctionName="zip-refused")


def test_hostile_layers_are_refused_before_anything_is_unpacked(
    server: LambdadServer, registry_address: str, tmp_path: Path
) -> None:
    escape = tarfile.TarInfo("../../../escaped-by-image")
    device = tarfile.TarInfo("dev-sda")
    device.type, device.devmajor, device.devminor = tarfile.BLKTYPE, 8, 0
    lam = server.client()
    unpacked = set((server.data_dir / "images").glob("*/rootfs"))
    for tag, entry in (("escape", escape), ("device", device)):
        push_layer_image(tmp_path / tag, f"{registry_address}/{ACCOUNT}/hostile:{tag}", [entry])
        code, message = error_of(
            lam.create_function,
            FunctionName=f"hostile-{tag}",
            Role=ROLE,
            PackageType="Image",
            Code={"ImageUri": f"{ECR}/hostile:{tag}"},
        )
        assert code == "InvalidParameterValueException", message
        assert "cannot be used" in message
    assert not (server.data_dir.parent / "escaped-by-image").exists()
    assert set((server.data_dir / "images").glob("*/rootfs")) == unpacked

    # A link to / and a file written through it: umoci resolves the path inside the
    # image's root, so the file lands in the image, never on the host.
    link = tarfile.TarInfo("root-link")
    link.type, link.linkname = tarfile.SYMTYPE, "/"
    through = tarfile.TarInfo(f"root-link{tmp_path}/written-through-link")
    push_layer_image(
        tmp_path / "link", f"{registry_address}/{ACCOUNT}/hostile:link", [link, through]
    )
    lam.create_function(
        FunctionName="hostile-link", Role=ROLE, PackageType="Image",
        Code={"ImageUri": f"{ECR}/hostile:link"},
    )  # fmt: skip
    lam.delete_function(FunctionName="hostile-link")
    assert not (tmp_path / "written-through-link").exists()
    inside = list((server.data_dir / "images").glob(f"*/rootfs{tmp_path}/written-through-link"))
    assert len(inside) == 1


def test_the_process_sandbox_says_it_runs_no_images(
    tmp_path: Path, registry_address: str, images: str
) -> None:
    env = {"LAMBDAD_IMAGE_REGISTRY": f"http://{registry_address}", "LAMBDAD_SANDBOX": "process"}
    with serving(LambdadServer(tmp_path / "data", env=env)) as process_server:
        lam = process_server.client()
        lam.create_function(
            FunctionName="image-unsandboxed",
            Role=ROLE,
            PackageType="Image",
            Code={"ImageUri": f"{ECR}/app:v1"},
        )
        code, message = error_of(lam.invoke, FunctionName="image-unsandboxed")
    assert code == "InvalidRuntimeException"
    assert "bwrap sandbox only" in message


def test_a_tag_pushed_again_runs_only_after_an_update(
    server: LambdadServer, registry_address: str, tmp_path: Path
) -> None:
    repository = f"{registry_address}/{ACCOUNT}/pinned"
    push_runtime_image(tmp_path / "a", f"{repository}:live", {"MESSAGE": "a", "GREETING": "g"})
    lam = server.client()
    lam.create_function(
        FunctionName="image-pinned", PackageType="Image", Code={"ImageUri": f"{ECR}/pinned:live"},
        Role=ROLE,
    )  # fmt: skip
    try:
        push_runtime_image(tmp_path / "b", f"{repository}:live", {"MESSAGE": "b", "GREETING": "g"})
        # The digest resolved at create time runs, whatever the tag names now.
        lam.update_function_configuration(FunctionName="image-pinned", Timeout=5)
        assert invoke(lam, "image-pinned", {})[0]["message"] == "a"
        lam.update_function_code(FunctionName="image-pinned", ImageUri=f"{ECR}/pinned:live")
        assert invoke(lam, "image-pinned", {})[0]["message"] == "b"
    finally:
        lam.delete_function(FunctionName="image-pinned")


SAM_TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  ImageFn:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: {ECR}/app:v1
      ImageConfig:
        Command: [templated.handler]
      Environment:
        Variables:
          GREETING: template
Outputs:
  Name:
    Value: !Ref ImageFn
"""


def test_a_sam_template_deploys_an_image_function(
    server: LambdadServer, images: str, tmp_path: Path
) -> None:
    (tmp_path / "template.yaml").write_text(SAM_TEMPLATE)
    env = client_env(server, COLUMNS="200")
    done = run_lambdad("deploy", "--stack-name", "image-stack", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        lam = server.client()
        (function,) = [
            f
            for f in lam.list_functions()["Functions"]
            if f["FunctionName"].startswith("image-stack")
        ]
        assert function["PackageType"] == "Image"
        answer, _ = invoke(lam, function["FunctionName"], {"from": "sam"})
        assert (answer["greeting"], answer["handler"]) == ("template", "templated.handler")
    finally:
        done = run_lambdad("delete-stack", "image-stack", env=env)
        assert done.returncode == 0, done.stdout + done.stderr


def test_an_image_reaches_no_privileged_host_process(
    server: LambdadServer, registry_address: str, tmp_path: Path
) -> None:
    """An image's /etc/ld.so.preload is never read by the privileged stages (the host's
    loader runs them inside the image's root), an ``etc`` link to elsewhere in the image
    is refused, and no file of the image stays setuid, setgid or writable by others on
    the host."""
    extra = {
        "etc/ld.so.preload": (b"/evil.so\n", 0o644),
        "evil.so": (b"not a shared object\n", 0o755),
        "bin/setuid-tool": (b"#!/bin/sh\nid\n", 0o6755),
        "var/task/shared": (b"", 0o777),
        "var/task/open": (None, 0o777),
    }
    repository = f"{registry_address}/{ACCOUNT}/preload"
    push_runtime_image(
        tmp_path / "preload", f"{repository}:v1", {"MESSAGE": "m", "GREETING": "g"},
        extra=extra,
    )  # fmt: skip
    lam = server.client()
    lam.create_function(
        FunctionName="image-preload", PackageType="Image", Role=ROLE,
        Code={"ImageUri": f"{ECR}/preload:v1"},
    )  # fmt: skip
    try:
        answer, log = invoke(lam, "image-preload", {})
        assert answer["message"] == "m"
        events = server.client("logs").filter_log_events(logGroupName="/aws/lambda/image-preload")[
            "events"
        ]
        output = log + "".join(e["message"] for e in events)
        assert "bootstrap init" in output
        assert "ld.so" not in output, output
        assert "evil" not in output, output
        digest = lam.get_function(FunctionName="image-preload")["Code"]["ResolvedImageUri"]
        home = server.data_dir / "images" / digest.rsplit(":", 1)[1]
        for path in (home.parent, home):
            assert path.stat().st_mode & 0o777 == 0o700
        rootfs = home / "rootfs"
        assert (rootfs / "bin" / "setuid-tool").stat().st_mode & 0o7777 == 0o755
        assert (rootfs / "var" / "task" / "shared").stat().st_mode & 0o7777 == 0o775
        assert (rootfs / "var" / "task" / "open").stat().st_mode & 0o7777 == 0o775
        assert (rootfs / "etc" / "ld.so.preload").read_bytes() == b""
    finally:
        lam.delete_function(FunctionName="image-preload")

    usr_etc = tarfile.TarInfo("usr/etc")
    usr_etc.type = tarfile.DIRTYPE
    preload = tarfile.TarInfo("usr/etc/ld.so.preload")
    etc = tarfile.TarInfo("etc")
    etc.type, etc.linkname = tarfile.SYMTYPE, "usr/etc"
    push_layer_image(tmp_path / "etc-link", f"{repository}:etc-link", [usr_etc, preload, etc])
    code, message = error_of(
        lam.create_function,
        FunctionName="image-etc-link",
        Role=ROLE,
        PackageType="Image",
        Code={"ImageUri": f"{ECR}/preload:etc-link"},
    )
    assert code == "InvalidParameterValueException", message
    assert "/etc" in message


def test_an_entrypoint_or_working_directory_that_cannot_run_is_said_as_aws_says_it(
    server: LambdadServer, images: str
) -> None:
    lam = server.client()
    lam.create_function(
        FunctionName="image-broken", PackageType="Image", Role=ROLE,
        Code={"ImageUri": f"{ECR}/app:v1"}, ImageConfig={"EntryPoint": ["/missing"]},
    )  # fmt: skip
    try:
        for config, error_type, message in (
            ({"EntryPoint": ["/missing"]}, "Runtime.InvalidEntrypoint",
             "fork/exec /missing: no such file or directory"),
            ({"WorkingDirectory": "/nowhere"}, "Runtime.InvalidWorkingDir",
             "the working directory '/nowhere' is invalid: no such file or directory"),
            ({"WorkingDirectory": "var/task"}, "Runtime.InvalidWorkingDir",
             "the working directory 'var/task' is invalid, it needs to be an absolute path"),
        ):  # fmt: skip
            lam.update_function_configuration(FunctionName="image-broken", ImageConfig=config)
            lam.get_waiter("function_updated_v2").wait(FunctionName="image-broken")
            out = lam.invoke(FunctionName="image-broken", Payload=b"{}")
            assert out["FunctionError"] == "Unhandled"
            doc = json.loads(out["Payload"].read())
            assert doc["errorType"] == error_type, doc
            assert doc["errorMessage"].endswith(message), doc
    finally:
        lam.delete_function(FunctionName="image-broken")
