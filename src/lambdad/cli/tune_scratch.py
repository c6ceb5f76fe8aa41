"""Scratch versions for ``lambdad tune``: one published version and one alias per
memory size, gone again when tuning ends, however it ends.

As AWS Lambda Power Tuning does, each size is a published version (published from
``$LATEST`` after ``UpdateFunctionConfiguration`` sets its ``MemorySize``) behind a
scratch alias, so that the invocations run on immutable versions. ``$LATEST`` is
changed only while the versions are published, and its ``MemorySize`` is put back
straight after (and again on the way out if that failed) — unless someone else
changed it meanwhile, which this leaves alone. On the way out (success, failure,
Ctrl-C or SIGTERM) the aliases are deleted, then the versions this run created:
``PublishVersion`` hands back an existing version when nothing changed since it, and
a version that existed before the run is never deleted.
"""

from __future__ import annotations

import re
import secrets
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

DESCRIPTION = "lambdad tune scratch version ({} MB)"
SCRATCH_ALIAS = re.compile(r"lambdad-tune-(\d+)mb-[0-9a-f]{6}")
SETTLE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Scratch:
    memory_mb: int
    version: str
    alias: str
    created: bool  # False: PublishVersion returned a version that existed already


def alias_name(memory_mb: int, token: str) -> str:
    return f"lambdad-tune-{memory_mb}mb-{token}"


def _versions(lam: Any, name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        found.update((v["Version"], v) for v in page.get("Versions", []))
    return found


def existing_versions(lam: Any, name: str) -> set[str]:
    return set(_versions(lam, name))


def leftovers(lam: Any, name: str) -> list[tuple[str, str | None]]:
    """Scratch aliases a run that could not clean up (SIGKILL, power cut) left, each
    with its version if that run published it (its description says so), else None."""
    found: list[tuple[str, str | None]] = []
    versions = _versions(lam, name)
    for page in lam.get_paginator("list_aliases").paginate(FunctionName=name):
        for alias in page.get("Aliases", []):
            m = SCRATCH_ALIAS.fullmatch(alias["Name"])
            if not m:
                continue
            version = alias["FunctionVersion"]
            ours = versions.get(version, {}).get("Description") == DESCRIPTION.format(m.group(1))
            found.append((alias["Name"], version if ours else None))
    return found


def remove_leftovers(lam: Any, name: str, say: Callable[[str], None]) -> int:
    """Delete what ``leftovers`` finds; how many aliases there were."""
    found = leftovers(lam, name)
    steps: list[tuple[str, Callable[[], object]]] = [
        (f"delete alias {a}", partial(lam.delete_alias, FunctionName=name, Name=a))
        for a, _ in found
    ]
    steps += [
        (f"delete version {v}", partial(lam.delete_function, FunctionName=name, Qualifier=v))
        for v in sorted({v for _, v in found if v is not None}, key=int)
    ]
    for done in _run_steps(steps, say):
        say(done.replace("delete", "deleted", 1))
    return len(found)


def _settled(lam: Any, name: str) -> dict[str, Any]:
    """$LATEST's configuration once no update is in progress."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        conf: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        if conf.get("LastUpdateStatus") != "InProgress" or time.monotonic() > deadline:
            return conf
        time.sleep(0.2)


def _set_memory(lam: Any, name: str, memory_mb: int, revision: str) -> dict[str, Any]:
    lam.update_function_configuration(FunctionName=name, MemorySize=memory_mb, RevisionId=revision)
    return _settled(lam, name)


def _restore(lam: Any, name: str, original: int, ours: int | None) -> bool:
    """Put $LATEST's MemorySize back if it is still the one this run set."""
    conf = _settled(lam, name)
    if conf["MemorySize"] == original:
        return True
    if conf["MemorySize"] != ours:
        return False  # changed by someone else since: theirs stands
    _set_memory(lam, name, original, conf["RevisionId"])
    return True


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Clean-up is not cut short by a second Ctrl-C (or a SIGTERM)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to mask
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def scratch_versions(
    lam: Any, name: str, sizes: Sequence[int], say: Callable[[str], None]
) -> Iterator[list[Scratch]]:
    """Publish one aliased version per size; yield them; delete them afterwards."""
    conf = _settled(lam, name)
    original = int(conf["MemorySize"])
    before = existing_versions(lam, name)
    token = secrets.token_hex(3)
    made: list[Scratch] = []
    versions: list[str] = []  # published by this run, to delete
    aliases: list[str] = []
    ours: int | None = None
    restored = False
    try:
        revision = conf["RevisionId"]
        for size in sizes:
            if size != (ours or original):
                conf = _set_memory(lam, name, size, revision)
                ours = size
            published = lam.publish_version(FunctionName=name, Description=DESCRIPTION.format(size))
            version = published["Version"]
            created = version not in before and version not in versions
            if created:
                versions.append(version)
            alias = alias_name(size, token)
            lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
            aliases.append(alias)
            made.append(Scratch(size, version, alias, created))
            revision = _settled(lam, name)["RevisionId"]
            say(f"published version {version} at {size} MB (alias {alias})")
        restored = ours is None or _restore(lam, name, original, ours)
        yield made
    finally:
        with _no_interrupts():
            steps: list[tuple[str, Callable[[], object]]] = []
            if not restored and ours is not None:
                steps.append(("restore $LATEST", partial(_restore, lam, name, original, ours)))
            steps += [
                (f"delete alias {a}", partial(lam.delete_alias, FunctionName=name, Name=a))
                for a in aliases
            ]
            steps += [
                (
                    f"delete version {v}",
                    partial(lam.delete_function, FunctionName=name, Qualifier=v),
                )
                for v in versions
            ]
            _run_steps(steps, say)


def _run_steps(
    steps: list[tuple[str, Callable[[], object]]], say: Callable[[str], None]
) -> list[str]:
    """Every step is tried, whatever the ones before did; the steps done."""
    import botocore.exceptions

    done = []
    for what, step in steps:
        try:
            if step() is False:
                say("$LATEST's MemorySize was changed by someone else meanwhile: left as is")
            done.append(what)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            say(f"could not {what}: {exc}")
    return done
