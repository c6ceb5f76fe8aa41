"""Where a handler's module lies in a code directory, as the runtimes look for it."""

from __future__ import annotations

import pytest

from lambdad.cli.code_dir import handler_files


@pytest.mark.parametrize(
    ("runtime", "handler", "files"),
    [
        ("python3.12", "app.handler", ("app.py", "app/__init__.py")),
        ("python3.12", "pkg.mod.handler", ("pkg/mod.py", "pkg/mod/__init__.py")),
        ("python3.12", "pkg/mod.handler", ("pkg/mod.py", "pkg/mod/__init__.py")),
        ("nodejs20.x", "src/index.handler", ("src/index.js", "src/index.mjs", "src/index.cjs")),
        ("provided.al2023", "bootstrap", ()),
        ("java21", "example.Handler::handleRequest", ()),
        ("python3.12", "nodot", ()),
        ("", "", ()),
    ],
)
def test_handler_files(runtime: str, handler: str, files: tuple[str, ...]) -> None:
    assert handler_files(runtime, handler) == files
