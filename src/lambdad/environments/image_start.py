"""Why a container image's runtime cannot start, as AWS says it, before any sandbox:
a working directory that is not absolute or not a directory of the image
(``Runtime.InvalidWorkingDir``), an ENTRYPOINT that is not there or not executable
(``Runtime.InvalidEntrypoint``).

Paths are looked up in the unpacked root as the sandbox resolves them: each link read
(never followed by the host) and resolved inside the root, an absolute target from the
root, ``..`` stopping at it. The sandbox's own top-level directories (``/tmp``,
``/proc``, ``/dev``, ``/sys``) are not the image's: ``/tmp`` is an empty directory,
anything under the others is left to the exec.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from lambdad.environments.report import Outcome, OutcomeKind
from lambdad.sandbox.base import SandboxSpec

MAX_LINKS = 40
# Where a bare ENTRYPOINT is searched without a PATH variable (Lambda always sets one).
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin:/opt/bin"
SANDBOX_OWN = frozenset({"proc", "dev", "sys"})
UNKNOWN = "unknown"  # a path of the sandbox's own, not looked up


def start_failure(spec: SandboxSpec) -> Outcome | None:
    """The init failure of an image environment that cannot start (None: it may)."""
    if spec.root_dir is None or not spec.argv:
        return None
    workdir = spec.workdir or ""
    if not workdir.startswith("/"):
        return _failure(
            "Runtime.InvalidWorkingDir",
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path",
        )
    found = lookup(spec.root_dir, workdir)
    if found is None or (isinstance(found, os.stat_result) and not stat.S_ISDIR(found.st_mode)):
        why = "no such file or directory" if found is None else "not a directory"
        return _failure(
            "Runtime.InvalidWorkingDir", f"the working directory '{workdir}' is invalid: {why}"
        )
    problem = entrypoint_problem(spec.root_dir, spec.argv[0], workdir, spec.env.get("PATH"))
    return None if problem is None else _failure("Runtime.InvalidEntrypoint", problem)


def entrypoint_problem(root: Path, entry: str, workdir: str, path: str | None) -> str | None:
    """Why ``entry`` cannot be exec'd in ``root`` (Go's words, as AWS's init says them)."""
    if "/" in entry:
        found = lookup(root, entry if entry.startswith("/") else f"{workdir}/{entry}")
        if found is None:
            return f"fork/exec {entry}: no such file or directory"
        if isinstance(found, os.stat_result) and not _executable(found):
            return f"fork/exec {entry}: permission denied"
        return None
    for directory in (DEFAULT_PATH if path is None else path).split(":"):
        if not directory.startswith("/"):
            return None  # relative to where the shell is: left to the exec
        found = lookup(root, f"{directory}/{entry}")
        if found == UNKNOWN or (isinstance(found, os.stat_result) and _executable(found)):
            return None
    return f'exec: "{entry}": executable file not found in $PATH'


def lookup(root: Path, path: str) -> os.stat_result | str | None:
    """What ``path`` names inside ``root`` (links resolved inside it), ``UNKNOWN`` for
    a path of the sandbox's own, None when nothing is there."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    st = os.lstat(root)
    while pending:
        name = pending.pop(0)
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        if not resolved and name in SANDBOX_OWN:
            return UNKNOWN
        if not resolved and name == "tmp":
            return os.lstat(root) if not pending else None  # the sandbox's empty /tmp
        if not stat.S_ISDIR(st.st_mode):
            return None
        here = root.joinpath(*resolved, name)
        try:
            st = os.lstat(here)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                return None
            target = os.readlink(here)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            st = os.lstat(root.joinpath(*resolved))
            continue
        resolved.append(name)
    return st


def _executable(st: os.stat_result) -> bool:
    # The runtime's uid owns nothing of the image (root's files): others' bit.
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & stat.S_IXOTH)


def _failure(error_type: str, problem: str) -> Outcome:
    message = f"RequestId: - Error: {problem}"
    doc = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return Outcome(OutcomeKind.INIT_ERROR, doc, error_type)
