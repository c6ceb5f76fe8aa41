"""moto's test-suite and what it needs to run, fetched once into the work directory.

moto's wheel has no tests, so the tests come from its source distribution
(``pip download --no-binary :all:``). Only ``tests/`` is unpacked: with the sdist's
``moto/`` beside it, pytest's rootdir insertion would import that copy instead of the
installed one. Test-only dependencies missing from the venv (freezegun) are installed
into a private target directory that goes on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from processes import HarnessError

#: Imported by moto's Lambda tests but not a dependency of moto itself.
TEST_REQUIREMENTS = {"freezegun": "freezegun==1.5.5"}

PYTEST_INI = """\
[pytest]
markers =
    network: requires network connection
    requires_docker: requires running docker
    aws_verified: Verified against AWS, and should be able to run against AWS
    requires_clean_slate: requires a clean slate, so no parallel testing
filterwarnings =
    ignore:datetime.datetime.utcnow:DeprecationWarning:botocore
"""


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def moto_tests(work_dir: Path, version: str) -> Path:
    """The directory holding moto's ``tests/`` package (and the pytest ini for it)."""
    root = work_dir / f"moto-{version}"
    marker = root / "tests" / "test_awslambda" / "__init__.py"
    if not marker.exists():
        dist = work_dir / "dist"
        archive = dist / f"moto-{version}.tar.gz"
        if not archive.exists():
            dist.mkdir(parents=True, exist_ok=True)
            _pip(
                "download", "--no-binary", ":all:", "--no-deps", f"moto=={version}", "-d", str(dist)
            )
        if not archive.exists():
            raise HarnessError(f"pip download did not produce {archive}")
        shutil.rmtree(root, ignore_errors=True)
        prefix = f"moto-{version}/tests/"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(work_dir, members=members, filter="data")
        if not marker.exists():
            raise HarnessError(f"{archive} has no tests/test_awslambda")
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


def extra_packages(work_dir: Path) -> Path:
    """A directory for ``PYTHONPATH`` with the test-only packages the venv lacks."""
    target = work_dir / "pydeps"
    missing = [
        requirement
        for module, requirement in TEST_REQUIREMENTS.items()
        if importlib.util.find_spec(module) is None and not (target / module).exists()
    ]
    if missing:
        _pip("install", "--quiet", "--no-deps", "--target", str(target), *missing)
    target.mkdir(parents=True, exist_ok=True)
    return target
