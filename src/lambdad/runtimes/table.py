"""Runtime identifiers -> interpreters on this host.

``python3.12`` runs on a CPython 3.12 found on the host (system directories, then
pyenv's versions); ``nodejsNN.x`` on the ``node`` found on PATH; ``provided.*``
runs the archive's own ``bootstrap``. When the exact version is missing, the
nearest one runs (newer preferred) and the init log says so, unless strict mode
refuses. Settings may override any entry with an explicit interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lambdad.model.runtimes import runtime_info

RUNTIME_DIR = Path(__file__).parent
PYTHON_BOOTSTRAP = RUNTIME_DIR / "python" / "bootstrap.py"
NODE_BOOTSTRAP = RUNTIME_DIR / "nodejs" / "bootstrap.js"
# A debugger attached (``lambdad dev --debug``): the port debugpy listens on inside the
# environment, and where its package is (the Python runtime reads both).
DEBUG_PORT_VARIABLE = "_LAMBDAD_DEBUG_PORT"
DEBUGPY_PATH_VARIABLE = "_LAMBDAD_DEBUGPY_PATH"


class RuntimeUnavailable(Exception):
    """No interpreter on this host can run the runtime."""


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start a runtime, and what the init log should say about it."""

    family: str
    interpreter: Path | None  # None for provided runtimes
    argv: tuple[str, ...]  # relative to the environment: "{task}" is the code directory
    notice: str | None = None


class RuntimeTable:
    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        *,
        strict: bool = False,
        search_path: str | None = None,
        pyenv_root: Path | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.strict = strict
        self.search_path = search_path if search_path is not None else os.environ.get("PATH", "")
        self.pyenv_root = pyenv_root or Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))

    @cached_property
    def pythons(self) -> dict[str, Path]:
        """Minor version ("3.12") -> a real CPython binary (not a pyenv shim)."""
        found: dict[str, Path] = {}
        candidates: list[Path] = []
        for d in ("/usr/local/bin", "/usr/bin"):
            candidates.extend(sorted(Path(d).glob("python3.*")))
        versions = self.pyenv_root / "versions"
        if versions.is_dir():
            for v in sorted(versions.iterdir()):
                candidates.extend(sorted((v / "bin").glob("python3.*")))
        for path in candidates:
            m = re.fullmatch(r"python(3\.\d+)", path.name)
            if m and m.group(1) not in found and os.access(path, os.X_OK) and path.is_file():
                found[m.group(1)] = path
        return found

    @cached_property
    def node(self) -> tuple[Path, int] | None:
        exe = shutil.which("node", path=self.search_path)
        if exe is None:
            return None
        try:
            out = subprocess.run(
                [exe, "--version"], capture_output=True, text=True, timeout=10, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.match(r"v(\d+)", out.strip())
        return (Path(exe), int(m.group(1))) if m else None

    def launch(self, identifier: str) -> Launch:
        info = runtime_info(identifier)
        if info is None:
            raise RuntimeUnavailable(f"unknown runtime {identifier}")
        override = self.overrides.get(identifier)
        if info.family == "python":
            exe, notice = self._python(info.version, override)
            return Launch("python", exe, (str(exe), str(PYTHON_BOOTSTRAP)), notice)
        if info.family == "nodejs":
            exe, notice = self._node(int(info.version), override)
            return Launch("nodejs", exe, (str(exe), str(NODE_BOOTSTRAP)), notice)
        if info.family == "provided":
            return Launch("provided", None, ("{task}/bootstrap",))
        raise RuntimeUnavailable(
            f"The {identifier} runtime is not available on this lambdad host: lambdad runs "
            f"no {info.family} runtime, so nothing to install makes it run here. Runtimes "
            "here: python3.x, nodejs*.x, provided.al2, provided.al2023 (a function with a "
            "bootstrap of its own, such as AWS's runtime interface client for its language)."
        )

    def _python(self, version: str, override: str | None) -> tuple[Path, str | None]:
        if override:
            return Path(override), None
        if version in self.pythons:
            return self.pythons[version], None
        if self.strict or not self.pythons:
            raise RuntimeUnavailable(
                f"no Python {version} interpreter on this host (install CPython {version}: "
                f"pyenv install {version}, or your distribution's python{version} package)"
            )
        want = _vkey(version)
        newer = sorted((v for v in self.pythons if _vkey(v) > want), key=_vkey)
        older = sorted((v for v in self.pythons if _vkey(v) < want), key=_vkey, reverse=True)
        pick = (newer or older)[0]
        return self.pythons[pick], (
            f"lambdad: Python {version} is not installed on this host; running on "
            f"Python {pick} ({self.pythons[pick]})"
        )

    def _node(self, major: int, override: str | None) -> tuple[Path, str | None]:
        if override:
            return Path(override), None
        if self.node is None:
            raise RuntimeUnavailable("no Node.js interpreter on this host (install nodejs)")
        exe, found = self.node
        if found == major:
            return exe, None
        if self.strict:
            raise RuntimeUnavailable(
                f"Node.js {major} is not installed on this host (install Node.js {major}: "
                "https://nodejs.org or your distribution's nodejs package)"
            )
        return exe, (
            f"lambdad: Node.js {major} is not installed on this host; running on Node.js {found}"
        )

    def available(self) -> dict[str, str]:
        """What ``doctor`` reports: family -> versions found."""
        out = {"python": ", ".join(sorted(self.pythons, key=_vkey)) or "none"}
        out["nodejs"] = str(self.node[1]) if self.node else "none"
        return out


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
