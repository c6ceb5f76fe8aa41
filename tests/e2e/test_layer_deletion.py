"""DeleteLayerVersion, end to end: the layer's archive leaves the data directory once
nothing uses it, and a function that took the version before it was deleted still
starts with it, as on AWS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.helpers import LambdadServer, handler_zip, make_zip

NewFunction = Callable[..., dict[str, Any]]

USES_LAYER = "import lib\ndef handler(event, context):\n    return {'lib': lib.WHO}\n"


def archive(server: LambdadServer, layer: dict[str, Any]) -> Path:
    """Where a layer version's archive is stored (blobs are named by their SHA-256)."""
    sha256_hex = base64.b64decode(layer["Content"]["CodeSha256"]).hex()
    return server.data_dir / "blobs" / sha256_hex[:2] / f"{sha256_hex}.zip"


def test_a_deleted_layer_versions_archive_goes_with_the_last_version_that_has_it(
    lambdad: LambdadServer, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    content = {"ZipFile": make_zip({"python/lib.py": f"WHO = {unique_name()!r}\n"})}
    name = unique_name("layer-")
    first = client.publish_layer_version(LayerName=name, Content=content)
    second = client.publish_layer_version(LayerName=name, Content=content)
    stored = archive(lambdad, first)
    assert stored.is_file()

    client.delete_layer_version(LayerName=name, VersionNumber=first["Version"])
    assert stored.is_file()  # version 2 has the same bytes

    client.delete_layer_version(LayerName=name, VersionNumber=second["Version"])
    assert not stored.exists()


def test_a_function_first_started_after_its_layer_version_was_deleted_runs_it(
    lambdad: LambdadServer, new_function: NewFunction, unique_name: Callable[[str], str]
) -> None:
    client = lambdad.client()
    who = unique_name()
    layer = client.publish_layer_version(
        LayerName=unique_name("layer-"),
        Content={"ZipFile": make_zip({"python/lib.py": f"WHO = {who!r}\n"})},
    )
    fn = new_function(handler_zip(USES_LAYER), Layers=[layer["LayerVersionArn"]])
    client.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=layer["Version"])

    # Never invoked before: this cold start extracts the layer from its archive.
    out = client.invoke(FunctionName=fn["FunctionName"], Payload=b"{}")
    assert "FunctionError" not in out
    assert json.loads(out["Payload"].read()) == {"lib": who}

    assert archive(lambdad, layer).is_file()

    client.delete_function(FunctionName=fn["FunctionName"])
    assert not archive(lambdad, layer).exists()
