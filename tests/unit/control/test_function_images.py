"""The control plane's rules for image functions, with AWS's messages."""

from __future__ import annotations

import pytest

from lambdad.control import images
from lambdad.errors import InvalidParameterValueException

IMAGE_DOC = {"PackageType": "Image", "ImageConfig": {"Command": ["h"]}}


def test_handler_runtime_and_layers_are_refused_for_images() -> None:
    for key, value in (("Handler", "a.b"), ("Runtime", "python3.12"), ("Layers", [])):
        with pytest.raises(InvalidParameterValueException) as caught:
            images.check_image_params({key: value})
        assert caught.value.message == images.NOT_FOR_IMAGES
    images.check_image_params({"ImageConfig": {}, "SnapStart": {"ApplyOn": "None"}})
    with pytest.raises(InvalidParameterValueException) as caught:
        images.check_image_params({"SnapStart": {"ApplyOn": "PublishedVersions"}})
    assert caught.value.message == images.NO_SNAPSTART


def test_code_updates_match_the_package_type() -> None:
    assert images.update_uri(IMAGE_DOC, {"ImageUri": "u"}) == "u"
    assert images.update_uri({"PackageType": "Zip"}, {"ZipFile": b""}) is None
    for doc, params, message in (
        (IMAGE_DOC, {"ZipFile": b"x"}, images.IMAGE_URI_NEEDED),
        (IMAGE_DOC, {"ImageUri": "u", "S3Bucket": "b"}, images.IMAGE_URI_NEEDED),
        ({"PackageType": "Zip"}, {"ImageUri": "u"}, images.NO_IMAGE_URI_FOR_ZIP),
    ):
        with pytest.raises(InvalidParameterValueException) as caught:
            images.update_uri(doc, params)
        assert caught.value.message == message


def test_recorded_image_code_and_its_rendering() -> None:
    doc: dict = dict(IMAGE_DOC, CodeSha256Hex="old")
    digest = "sha256:" + "b" * 64
    code = images.ImageCode("ecr/app:v1", f"ecr/app@{digest}", digest, "1/app")
    images.set_image_code(doc, code)
    assert doc["CodeSha256"] == "b" * 64
    assert doc["CodeSize"] == 0
    assert "CodeSha256Hex" not in doc  # no blob of lambdad's holds an image
    assert images.code_location(doc) == {
        "RepositoryType": "ECR",
        "ImageUri": "ecr/app:v1",
        "ResolvedImageUri": f"ecr/app@{digest}",
    }
    run = images.image_run(doc)
    assert run is not None
    assert run.digest == digest
    assert run.overrides.command == ("h",)
    out = {"PackageType": "Image", "ImageConfig": {"Command": ["h"]}}
    images.render_image_config(out)
    assert out["ImageConfigResponse"] == {"ImageConfig": {"Command": ["h"]}}
    assert "ImageConfig" not in out
    assert images.image_run({"PackageType": "Zip"}) is None
