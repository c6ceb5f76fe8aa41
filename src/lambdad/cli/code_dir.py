"""Which files of a local code directory go into a function's archive, for ``lambdad
dev`` and ``lambdad deploy``: not version control, caches, virtualenvs, editors'
droppings or SAM CLI's build output, and never a lambdad data directory. A project's
directory is where the README starts ``lambdad serve``: its ``.lambdad`` holds the
server's keys and credentials, and its databases change on every request (watched,
each write would push the code again, which writes again)."""

from __future__ import annotations

import os
from pathlib import Path

SKIPPED_DIRS = frozenset(
    {
        *("__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".tox"),
        *(".aws-sam", ".chalice", ".idea", ".lambdad"),
    }
)
# Left out by ``lambdad dev`` (what a save leaves behind), kept by ``deploy``.
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~")
# Files only a data directory has (whatever --data-dir named it).
DATA_DIR_MARKERS = ("serve.lock", "master.key", "session.key")


def is_data_dir(path: Path) -> bool:
    return any((path / marker).is_file() for marker in DATA_DIR_MARKERS)


def skipped_dir(path: Path) -> bool:
    """A directory none of whose files are packaged: a data directory, a virtualenv
    (a function's dependencies go in with ``--build``, as SAM CLI leaves it out too)."""
    return path.name in SKIPPED_DIRS or is_data_dir(path) or (path / "pyvenv.cfg").is_file()


def packaged(path: Path, root: Path) -> bool:
    """Whether a file below ``root`` goes into the function's archive."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or path.name.endswith(SKIPPED_SUFFIXES):
        return False
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        if skipped_dir(parent):
            return False
    return True


def code_files(root: Path) -> list[Path]:
    """The files below ``root`` outside skipped directories, sorted (symbolic links to
    directories are not followed, as ``zip -r`` and SAM CLI leave them)."""
    found = []
    for top, dirs, files in os.walk(root):
        here = Path(top)
        dirs[:] = [d for d in dirs if not skipped_dir(here / d)]
        found += [here / f for f in files if (here / f).is_file()]
    return sorted(found)


def ignore_for_copy(directory: str, names: list[str]) -> set[str]:
    """``shutil.copytree``'s ``ignore``: what a build copy of the directory leaves out."""
    here = Path(directory)
    return {n for n in names if (here / n).is_dir() and skipped_dir(here / n)}


def handler_files(runtime: str, handler: str) -> tuple[str, ...]:
    """Where in a code directory the module of ``handler`` can be, for the runtimes
    that name one by its path (Python: ``pkg/mod.fn`` or ``pkg.mod.fn``; Node.js:
    ``src/index.handler``); none for the others."""
    module, dot, _ = handler.rpartition(".")
    if not dot or not module:
        return ()
    if runtime.startswith("python"):
        path = module.replace(".", "/")
        return (f"{path}.py", f"{path}/__init__.py")
    if runtime.startswith("nodejs"):
        return tuple(f"{module}{suffix}" for suffix in (".js", ".mjs", ".cjs"))
    return ()


def missing_handler(root: Path, runtime: str, handler: str) -> str | None:
    """The file a handler's module would be, when ``root`` has none of its forms."""
    candidates = handler_files(runtime, handler)
    if not candidates or any((root / c).is_file() for c in candidates):
        return None
    return candidates[0]
