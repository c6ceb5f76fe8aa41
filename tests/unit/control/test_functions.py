"""FunctionService: function management over an in-memory store and a fake clock."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdad.clock import FakeClock
from lambdad.config import Settings
from lambdad.control.account import AccountSettings
from lambdad.control.functions import FunctionService
from lambdad.errors import (
    CodeStorageExceededException,
    ForeignFunctionDenied,
    InvalidParameterValueException,
    PreconditionFailedException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdad.model.scope import Scope
from lambdad.secrets import Sealer
from lambdad.store.blobs import BlobStore
from lambdad.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
EAST = Scope(ACCOUNT, "us-east-1")
WEST = Scope(ACCOUNT, "eu-west-1")
OTHER = Scope("210987654321", "us-east-1")
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
START = datetime(2026, 1, 1, tzinfo=UTC)


def zip_of(source: str = "def handler(event, context):\n    return event\n") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("app.py", date_time=(2024, 1, 1, 0, 0, 0)), source)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def arn(name: str, scope: Scope = EAST) -> str:
    return f"arn:aws:lambda:{scope.region}:{scope.account}:function:{name}"


class Harness:
    def __init__(self, store: SqliteStore, blobs: BlobStore, **settings: Any) -> None:
        self.clock = FakeClock(START)
        self.store = store
        self.blobs = blobs
        self.changes: list[tuple[Scope, str, str | None]] = []
        self.service = FunctionService(
            Settings(**settings), self.store, self.blobs, Sealer(bytes(range(32))), self.clock
        )
        self.service.on_change(
            lambda scope, name, version: self.changes.append((scope, name, version))
        )

    def create(self, name: str = "fn", scope: Scope = EAST, **params: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": f"arn:aws:iam::{scope.account}:role/lambda-role",
            "Handler": "app.handler",
            "Code": {"ZipFile": b64(zip_of())},
            **params,
        }
        return self.service.create_function(scope, args)


@pytest.fixture
def h(store: SqliteStore, blobs: BlobStore) -> Harness:
    return Harness(store, blobs)


# -- create ---------------------------------------------------------------------------------


def test_create_answers_the_configuration_aws_returns(h: Harness) -> None:
    code = zip_of("x = 1\n")
    out = h.create("fn", Code={"ZipFile": b64(code)})
    assert out["FunctionName"] == "fn"
    assert out["FunctionArn"] == arn("fn")
    assert out["CodeSha256"] == sha256_b64(code)
    assert out["CodeSize"] == len(code)
    assert out["LastModified"] == "2026-01-01T00:00:00.000+0000"
    assert (out["Timeout"], out["MemorySize"], out["Version"]) == (3, 128, "$LATEST")
    assert (out["State"], out["StateReasonCode"]) == ("Pending", "Creating")
    assert "CodeSha256Hex" not in out
    assert not any(key.startswith("_") for key in out)

    config = h.service.get_configuration(EAST, "fn", None)
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    # Pending -> Active is a change: the stored revision is not the one answered.
    assert config["RevisionId"] != out["RevisionId"]
    assert h.blobs.get(hashlib.sha256(code).hexdigest()) == code


def test_zip_bytes_and_base64_text_are_both_accepted(h: Harness) -> None:
    code = zip_of()
    assert h.create("as-bytes", Code={"ZipFile": code})["CodeSha256"] == sha256_b64(code)
    assert h.create("as-text", Code={"ZipFile": b64(code)})["CodeSha256"] == sha256_b64(code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ({"ZipFile": "%%% not base64 %%%"}, "Could not unzip"),
        ({"ZipFile": b64(b"not a zip")}, "Could not unzip"),
        ({"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}, "ImageUri"),
        ({}, "Please provide a source for function code."),
    ],
)
def test_unusable_code_is_invalid(h: Harness, code: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        h.create("fn", Code=code)
    assert message in info.value.message
    with pytest.raises(ResourceNotFoundException):
        h.service.get_configuration(EAST, "fn", None)


def test_creating_twice_conflicts(h: Harness) -> None:
    h.create("fn")
    with pytest.raises(ResourceConflictException) as info:
        h.create("fn")
    assert info.value.message == "Function already exist: fn"


def test_a_name_with_a_qualifier_cannot_be_created(h: Harness) -> None:
    with pytest.raises(InvalidParameterValueException):
        h.create("fn:1")


def test_create_by_arn_of_this_region_works_and_of_another_region_does_not(h: Harness) -> None:
    assert h.create(arn("by-arn"))["FunctionArn"] == arn("by-arn")
    with pytest.raises(ResourceNotFoundException) as info:
        h.create(arn("elsewhere", WEST))
    assert info.value.message == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    )


def test_runtime_and_handler_are_mandatory(h: Harness) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        h.service.create_function(
            EAST, {"FunctionName": "fn", "Role": ROLE, "Code": {"ZipFile": zip_of()}}
        )
    assert "Runtime and Handler are mandatory" in info.value.message


def test_deprecated_runtimes_are_refused_from_their_block_date(h: Harness) -> None:
    # python3.8: AWS blocks creating functions on it from 2026-02-28.
    assert h.create("early", Runtime="python3.8")["Runtime"] == "python3.8"
    h.clock.advance(60 * 24 * 3600)
    with pytest.raises(InvalidParameterValueException) as info:
        h.create("late", Runtime="python3.8")
    assert "python3.8 is no longer supported" in info.value.message
    # Existing functions keep working.
    assert h.service.get_configuration(EAST, "early", None)["Runtime"] == "python3.8"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"Timeout": 901}, "'timeout'"),
        ({"MemorySize": 10241}, "'memorySize'"),
        ({"EphemeralStorage": {"Size": 10241}}, "'ephemeralStorage.size'"),
        ({"Timeout": 901.0}, "'timeout'"),
    ],
)
def test_limits_tighter_than_the_model_are_enforced(
    h: Harness, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationException) as info:
        h.create("fn", **params)
    assert field in info.value.message


def test_environment_is_sealed_at_rest_and_unsealed_on_read(h: Harness) -> None:
    h.create("fn", Environment={"Variables": {"TOKEN": "hunter2"}})
    stored = h.store.get_version(ACCOUNT, "us-east-1", "fn", "$LATEST")
    assert stored is not None
    assert "hunter2" not in repr(stored)
    assert h.service.get_configuration(EAST, "fn", None)["Environment"] == {
        "Variables": {"TOKEN": "hunter2"}
    }
    resolved = h.service.resolve(EAST, "fn", None)
    assert resolved.environment == {"TOKEN": "hunter2"}
    assert resolved.code_sha256_hex == hashlib.sha256(zip_of()).hexdigest()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"AWS_REGION": "x", "LAMBDA_TASK_ROOT": "y"}, "AWS_REGION, LAMBDA_TASK_ROOT"),
        ({"BIG": "x" * 4100}, "exceeded the 4KB limit"),
    ],
)
def test_environment_rules_beyond_the_model(
    h: Harness, variables: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidParameterValueException) as info:
        h.create("fn", Environment={"Variables": variables})
    assert message in info.value.message


def test_code_over_the_zipped_limit_is_too_large(store: SqliteStore, blobs: BlobStore) -> None:
    h = Harness(store, blobs, max_zipped_bytes=100)
    with pytest.raises(RequestTooLargeException):
        h.create("fn")


def test_code_storage_limit_is_enforced(store: SqliteStore, blobs: BlobStore) -> None:
    size = len(zip_of())
    h = Harness(store, blobs, code_storage_limit=size * 2)
    h.create("one")
    h.create("two")
    with pytest.raises(CodeStorageExceededException):
        h.create("three")


# -- read -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelled",
    ["fn", "fn:$LATEST", f"{ACCOUNT}:function:fn", arn("fn"), arn("fn") + ":$LATEST"],
)
def test_every_spelling_of_a_name_finds_the_function(h: Harness, spelled: str) -> None:
    h.create("fn")
    assert h.service.get_configuration(EAST, spelled, None)["FunctionName"] == "fn"


def test_get_function_links_the_code_and_shows_tags(h: Harness) -> None:
    h.create("fn", Tags={"team": "core"})
    urls: list[str] = []
    out = h.service.get_function(EAST, "fn", None, lambda sha: urls.append(sha) or f"url:{sha}")
    assert urls == [hashlib.sha256(zip_of()).hexdigest()]
    assert out["Code"] == {"RepositoryType": "S3", "Location": f"url:{urls[0]}"}
    assert out["Tags"] == {"team": "core"}
    assert out["Configuration"]["FunctionArn"] == arn("fn")


def test_regions_and_accounts_do_not_see_each_other(h: Harness) -> None:
    h.create("fn", Description="east")
    for scope in (WEST, OTHER):
        with pytest.raises(ResourceNotFoundException):
            h.service.get_configuration(scope, "fn", None)
        assert h.service.list_functions(scope, None, None, False) == {"Functions": []}
    with pytest.raises(ResourceNotFoundException) as info:
        h.service.get_configuration(WEST, arn("fn"), None)
    assert "not reachable in this region" in info.value.message
    # By ARN, another account's function is refused, whether it exists or not.
    for name in ("fn", "nope"):
        with pytest.raises(ForeignFunctionDenied) as denied:
            h.service.get_configuration(OTHER, arn(name), None)
        assert denied.value.code == "AccessDeniedException"
        assert denied.value.resource == arn(name)

    h.create("fn", WEST, Description="west")
    assert h.service.get_configuration(WEST, "fn", None)["FunctionArn"] == arn("fn", WEST)
    assert h.service.get_configuration(EAST, "fn", None)["Description"] == "east"


def test_unknown_functions_and_qualifiers_are_not_found(h: Harness) -> None:
    with pytest.raises(ResourceNotFoundException) as info:
        h.service.get_configuration(EAST, "nope", None)
    assert info.value.message == f"Function not found: {arn('nope')}"
    h.create("fn")
    with pytest.raises(ResourceNotFoundException) as info:
        h.service.get_configuration(EAST, "fn", "7")
    assert info.value.message == f"Function not found: {arn('fn')}:7"
    with pytest.raises(ResourceNotFoundException):
        h.service.get_configuration(EAST, "fn", "no-such-alias")
    with pytest.raises(InvalidParameterValueException):
        h.service.get_configuration(EAST, "fn:1", "2")


# -- list -----------------------------------------------------------------------------------


def test_list_functions_pages_by_name(h: Harness) -> None:
    names = sorted(f"fn-{i:02d}" for i in range(57))
    for name in reversed(names):
        h.create(name)

    first = h.service.list_functions(EAST, None, None, False)
    assert [f["FunctionName"] for f in first["Functions"]] == names[:50]
    second = h.service.list_functions(EAST, first["NextMarker"], None, False)
    assert [f["FunctionName"] for f in second["Functions"]] == names[50:]
    assert "NextMarker" not in second

    seen: list[str] = []
    marker = None
    while True:
        page = h.service.list_functions(EAST, marker, 10, False)
        seen.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
        if marker is None:
            break
    assert seen == names
    assert len(h.service.list_functions(EAST, None, 500, False)["Functions"]) == 50


def test_list_functions_can_include_every_version(h: Harness) -> None:
    h.create("fn", Publish=True)
    listed = h.service.list_functions(EAST, None, None, True)["Functions"]
    assert [f["Version"] for f in listed] == ["$LATEST", "1"]
    assert [
        f["Version"] for f in h.service.list_functions(EAST, None, None, False)["Functions"]
    ] == ["$LATEST"]


@pytest.mark.parametrize("marker", ["!!!", "\u00e9\u00e9", base64.b64encode(b"\xff\xfe").decode()])
def test_garbage_markers_are_invalid(h: Harness, marker: str) -> None:
    h.create("fn")
    with pytest.raises(InvalidParameterValueException):
        h.service.list_functions(EAST, marker, None, False)


@pytest.mark.parametrize(
    "position", ["abc", "-1", "\u00b2", "1.5"], ids=["letters", "negative", "superscript", "float"]
)
def test_garbage_version_markers_are_invalid(h: Harness, position: str) -> None:
    h.create("fn")
    marker = base64.urlsafe_b64encode(position.encode()).decode()
    with pytest.raises(InvalidParameterValueException):
        h.service.list_versions(EAST, "fn", marker, None)


def test_list_versions_pages(h: Harness) -> None:
    h.create("fn")
    for i in range(3):
        h.service.update_configuration(EAST, {"FunctionName": "fn", "Timeout": 10 + i})
        h.service.publish_version(EAST, {"FunctionName": "fn"})
    first = h.service.list_versions(EAST, "fn", None, 2)
    assert [v["Version"] for v in first["Versions"]] == ["$LATEST", "1"]
    rest = h.service.list_versions(EAST, "fn", first["NextMarker"], 2)
    assert [v["Version"] for v in rest["Versions"]] == ["2", "3"]
    assert "NextMarker" not in rest


# -- update -----------------------------------------------------------------------------------


def test_update_code_changes_code_revision_and_time(h: Harness) -> None:
    created = h.create("fn")
    h.clock.advance(1.5)
    code = zip_of("y = 2\n")
    out = h.service.update_code(EAST, {"FunctionName": "fn", "ZipFile": b64(code)})
    assert out["CodeSha256"] == sha256_b64(code)
    assert out["RevisionId"] != created["RevisionId"]
    assert out["LastModified"] == "2026-01-01T00:00:01.500+0000"
    assert out["LastUpdateStatus"] == "InProgress"
    assert h.service.get_configuration(EAST, "fn", None)["LastUpdateStatus"] == "Successful"
    assert h.changes == [(EAST, "fn", "$LATEST")]
    assert h.blobs.get(hashlib.sha256(code).hexdigest()) == code


def test_update_code_dry_run_changes_nothing(h: Harness) -> None:
    h.create("fn")
    created = h.service.get_configuration(EAST, "fn", None)
    h.service.update_code(EAST, {"FunctionName": "fn", "ZipFile": b"junk", "DryRun": True})
    config = h.service.get_configuration(EAST, "fn", None)
    assert config["RevisionId"] == created["RevisionId"]
    assert h.changes == []


def test_updates_check_the_revision_id(h: Harness) -> None:
    h.create("fn")
    created = h.service.get_configuration(EAST, "fn", None)
    for update in (
        lambda: h.service.update_configuration(
            EAST, {"FunctionName": "fn", "Timeout": 5, "RevisionId": "stale"}
        ),
        lambda: h.service.update_code(
            EAST, {"FunctionName": "fn", "ZipFile": zip_of(), "RevisionId": "stale"}
        ),
        lambda: h.service.publish_version(EAST, {"FunctionName": "fn", "RevisionId": "stale"}),
    ):
        with pytest.raises(PreconditionFailedException) as info:
            update()
        assert info.value.status == 412
    out = h.service.update_configuration(
        EAST, {"FunctionName": "fn", "Timeout": 5, "RevisionId": created["RevisionId"]}
    )
    assert out["Timeout"] == 5


def test_update_configuration_keeps_what_is_not_given(h: Harness) -> None:
    h.create("fn", Description="keep", Environment={"Variables": {"A_B": "1"}})
    out = h.service.update_configuration(EAST, {"FunctionName": "fn", "MemorySize": 512})
    assert out["MemorySize"] == 512
    assert out["Description"] == "keep"
    assert out["Environment"] == {"Variables": {"A_B": "1"}}
    out = h.service.update_configuration(
        EAST, {"FunctionName": "fn", "Environment": {"Variables": {}}}
    )
    assert out.get("Environment", {}).get("Variables", {}) == {}


def test_a_refused_update_changes_nothing(h: Harness) -> None:
    h.create("fn")
    created = h.service.get_configuration(EAST, "fn", None)
    h.clock.advance(120 * 24 * 3600)
    refused: list[dict[str, Any]] = [
        {"Timeout": 901},
        {"Runtime": "python3.8"},  # blocked by now
        {"Environment": {"Variables": {"AWS_REGION": "x"}}},
        {"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:nope:1"]},
    ]
    for params in refused:
        with pytest.raises((ValidationException, InvalidParameterValueException)):
            h.service.update_configuration(EAST, {"FunctionName": "fn", **params})
    with pytest.raises(InvalidParameterValueException):
        h.service.update_code(EAST, {"FunctionName": "fn", "ZipFile": b"not a zip"})
    config = h.service.get_configuration(EAST, "fn", None)
    assert config["RevisionId"] == created["RevisionId"]
    assert h.changes == []


def test_updates_refuse_a_qualified_name(h: Harness) -> None:
    h.create("fn")
    with pytest.raises(InvalidParameterValueException):
        h.service.update_configuration(EAST, {"FunctionName": "fn:1", "Timeout": 4})
    assert (
        h.service.update_configuration(EAST, {"FunctionName": "fn:$LATEST", "Timeout": 4})[
            "Timeout"
        ]
        == 4
    )


# -- versions -------------------------------------------------------------------------------


def test_publish_version_numbers_and_reuses_unchanged_versions(h: Harness) -> None:
    h.create("fn")
    first = h.service.publish_version(EAST, {"FunctionName": "fn", "Description": "v1"})
    assert (first["Version"], first["Description"]) == ("1", "v1")
    assert first["FunctionArn"] == arn("fn") + ":1"
    again = h.service.publish_version(EAST, {"FunctionName": "fn"})
    assert again["Version"] == "1"
    h.service.update_configuration(EAST, {"FunctionName": "fn", "Timeout": 7})
    second = h.service.publish_version(EAST, {"FunctionName": "fn"})
    assert (second["Version"], second["Timeout"]) == ("2", 7)
    assert h.service.get_configuration(EAST, "fn", "1")["Timeout"] == 3
    with pytest.raises(InvalidParameterValueException):
        h.service.publish_version(EAST, {"FunctionName": "fn", "CodeSha256": "different"})


# -- delete ---------------------------------------------------------------------------------


def test_delete_function_removes_it_and_tells_listeners(h: Harness) -> None:
    h.create("fn", Publish=True)
    h.service.delete_function(EAST, "fn", None)
    with pytest.raises(ResourceNotFoundException):
        h.service.get_configuration(EAST, "fn", None)
    with pytest.raises(ResourceNotFoundException):
        h.service.delete_function(EAST, "fn", None)
    assert h.changes[-1] == (EAST, "fn", None)
    assert h.create("fn")["Version"] == "$LATEST"


def test_delete_one_version(h: Harness) -> None:
    h.create("fn", Publish=True)
    with pytest.raises(InvalidParameterValueException):
        h.service.delete_function(EAST, "fn", "$LATEST")
    h.service.delete_function(EAST, "fn", "1")
    assert [v["Version"] for v in h.service.list_versions(EAST, "fn", None, None)["Versions"]] == [
        "$LATEST"
    ]
    # As on AWS, a version the function does not have: nothing to delete.
    h.service.delete_function(EAST, "fn", "1")
    assert h.service.get_configuration(EAST, "fn", None)["Version"] == "$LATEST"


def test_delete_in_another_region_or_account_touches_nothing(h: Harness) -> None:
    h.create("fn")
    for scope, name in ((WEST, "fn"), (OTHER, "fn"), (WEST, arn("fn"))):
        with pytest.raises(ResourceNotFoundException):
            h.service.delete_function(scope, name, None)
    with pytest.raises(ForeignFunctionDenied):
        h.service.delete_function(OTHER, arn("fn"), None)
    assert h.service.get_configuration(EAST, "fn", None)


# -- tags ---------------------------------------------------------------------------------------


def test_tags(h: Harness) -> None:
    h.create("fn", Tags={"a": "1"})
    resource = arn("fn")
    h.service.tag_resource(EAST, resource, {"b": "2", "a": "one"})
    assert h.service.list_tags(EAST, resource) == {"Tags": {"a": "one", "b": "2"}}
    h.service.untag_resource(EAST, resource, ["a", "missing"])
    assert h.service.list_tags(EAST, resource) == {"Tags": {"b": "2"}}


def test_no_more_than_50_tags_at_creation(h: Harness) -> None:
    with pytest.raises(InvalidParameterValueException):
        h.create("fn", Tags={f"k{i}": "v" for i in range(51)})
    assert h.create("fn", Tags={f"k{i}": "v" for i in range(50)})


def test_tag_limits_and_targets(h: Harness) -> None:
    h.create("fn")
    resource = arn("fn")
    h.service.tag_resource(EAST, resource, {f"k{i}": "v" for i in range(50)})
    with pytest.raises(InvalidParameterValueException):
        h.service.tag_resource(EAST, resource, {"one-too-many": "v"})
    assert len(h.service.list_tags(EAST, resource)["Tags"]) == 50
    with pytest.raises(InvalidParameterValueException):
        h.service.list_tags(EAST, "fn")
    with pytest.raises(ResourceNotFoundException):
        h.service.list_tags(EAST, arn("missing"))
    with pytest.raises(ResourceNotFoundException) as info:
        h.service.list_tags(EAST, arn("fn", WEST))
    assert "not reachable in this region" in info.value.message
    with pytest.raises(ForeignFunctionDenied):
        h.service.tag_resource(OTHER, resource, {"a": "b"})


# -- account (control/account.py) ----------------------------------------------------------------


def test_account_settings_count_this_account_and_region_only(h: Harness) -> None:
    account = AccountSettings(h.service.settings, h.store)
    empty = account.get(EAST)
    assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    assert empty["AccountLimit"]["CodeSizeZipped"] == 50 * 1024 * 1024
    assert empty["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000

    size = len(zip_of())
    h.create("a", Publish=True)  # $LATEST and version 1 both count
    h.create("b")
    h.create("c", WEST)
    h.create("d", OTHER)
    assert account.get(EAST)["AccountUsage"] == {
        "TotalCodeSize": 3 * size,
        "FunctionCount": 2,
    }
    assert account.get(WEST)["AccountUsage"]["FunctionCount"] == 1
    assert account.get(OTHER)["AccountUsage"]["FunctionCount"] == 1
