"""Scratch versions of ``lambdad tune`` against an in-memory Lambda: what is left
afterwards, whatever happened in between."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdad.cli.tune_scratch import leftovers, remove_leftovers, scratch_versions


class Pages:
    def __init__(self, page: dict[str, Any]) -> None:
        self.page = page

    def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
        yield self.page


class FakeLambda:
    """$LATEST, published versions (PublishVersion hands back the last one when
    nothing changed, as AWS does) and aliases of one function."""

    def __init__(self, memory: int = 256) -> None:
        self.latest = {"MemorySize": memory, "RevisionId": "r0"}
        self.versions: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.revisions = itertools.count(1)
        self.next_version = 1
        self.fail_publish_at: int | None = None
        self.on_update: Any = None

    def _touch(self) -> None:
        self.latest["RevisionId"] = f"r{next(self.revisions)}"

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return dict(self.latest, LastUpdateStatus="Successful")

    def update_function_configuration(self, **p: Any) -> None:
        if p["RevisionId"] != self.latest["RevisionId"]:
            raise ClientError({"Error": {"Code": "PreconditionFailedException"}}, "Update")
        self.latest["MemorySize"] = p["MemorySize"]
        self._touch()
        if self.on_update:
            self.on_update()

    def publish_version(self, FunctionName: str, Description: str = "") -> dict[str, Any]:
        if self.fail_publish_at == self.latest["MemorySize"]:
            raise ClientError({"Error": {"Code": "ServiceException"}}, "PublishVersion")
        last = str(self.next_version - 1)
        if last in self.versions and self.versions[last]["MemorySize"] == self.latest["MemorySize"]:
            return {"Version": last}
        version = str(self.next_version)
        self.next_version += 1
        memory = self.latest["MemorySize"]
        self.versions[version] = {"MemorySize": memory, "Description": Description}
        self._touch()
        return {"Version": version}

    def create_alias(self, FunctionName: str, Name: str, FunctionVersion: str) -> None:
        self.aliases[Name] = FunctionVersion

    def delete_alias(self, FunctionName: str, Name: str) -> None:
        del self.aliases[Name]

    def delete_function(self, FunctionName: str, Qualifier: str) -> None:
        del self.versions[Qualifier]

    def get_paginator(self, operation: str) -> Pages:
        if operation == "list_aliases":
            aliases = [{"Name": n, "FunctionVersion": v} for n, v in self.aliases.items()]
            return Pages({"Aliases": aliases})
        versions = [{"Version": v, **d} for v, d in self.versions.items()]
        return Pages({"Versions": [{"Version": "$LATEST"}, *versions]})


def test_versions_aliases_and_latest_come_back_as_they_were_after_a_failure() -> None:
    lam = FakeLambda(memory=256)
    lam.publish_version("f")  # version 1 at 256 MB: the user's
    lam.aliases["live"] = "1"
    seen: list[tuple[int, str, bool]] = []
    memory_during_run: list[int] = []

    def run() -> None:
        with scratch_versions(lam, "f", [256, 512, 1024], print) as scratches:
            seen.extend((x.memory_mb, x.version, x.created) for x in scratches)
            memory_during_run.append(lam.latest["MemorySize"])
            raise RuntimeError("an invocation went wrong")

    with pytest.raises(RuntimeError):
        run()
    assert seen == [
        (256, "1", False),  # PublishVersion handed back the user's version 1
        (512, "2", True),
        (1024, "3", True),
    ]
    assert memory_during_run == [256]  # restored before the invocations
    assert lam.aliases == {"live": "1"}
    assert set(lam.versions) == {"1"}
    assert lam.latest["MemorySize"] == 256


def test_a_publish_that_fails_half_way_still_cleans_up() -> None:
    lam = FakeLambda(memory=128)
    lam.fail_publish_at = 1024
    with pytest.raises(ClientError), scratch_versions(lam, "f", [256, 1024], print):
        pass
    assert lam.aliases == {}
    assert lam.versions == {}
    assert lam.latest["MemorySize"] == 128


def test_someone_elses_memory_change_meanwhile_stands() -> None:
    lam = FakeLambda(memory=128)
    said: list[str] = []

    def meddle() -> None:
        if lam.latest["MemorySize"] == 512:  # a user's update lands after ours
            lam.latest["MemorySize"] = 3008
            lam._touch()

    lam.on_update = meddle
    with scratch_versions(lam, "f", [256, 512], said.append):
        pass
    assert lam.latest["MemorySize"] == 3008
    assert "changed by someone else" in " ".join(said)
    assert lam.versions == {}
    assert lam.aliases == {}


def test_leftovers_of_a_killed_run_are_found_and_removed() -> None:
    lam = FakeLambda(memory=128)
    lam.publish_version("f")  # the user's version 1
    lam.aliases["live"] = "1"
    # What a run killed during its invocations leaves: 128 MB was the user's version 1
    # handed back by PublishVersion, 512 MB a version of its own.
    lam.aliases["lambdad-tune-128mb-0a1b2c"] = "1"
    lam.latest["MemorySize"] = 512
    lam.publish_version("f", Description="lambdad tune scratch version (512 MB)")
    lam.aliases["lambdad-tune-512mb-0a1b2c"] = "2"
    lam.latest["MemorySize"] = 128
    assert sorted(leftovers(lam, "f")) == [
        ("lambdad-tune-128mb-0a1b2c", None),
        ("lambdad-tune-512mb-0a1b2c", "2"),
    ]
    said: list[str] = []
    assert remove_leftovers(lam, "f", said.append) == 2
    assert lam.aliases == {"live": "1"}
    assert set(lam.versions) == {"1"}
    assert "deleted version 2" in said
