"""The order resources are applied in: what each one refers to (``Ref``,
``Fn::GetAtt``, names in ``Fn::Sub``) and what it ``DependsOn``, sorted so that a
resource comes after everything it needs. A cycle is a template error, as on AWS."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lambdad.deploy.errors import ValidationError

_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def references(expr: Any) -> set[str]:
    """The names ``expr`` refers to (resources and parameters alike)."""
    found: set[str] = set()
    _walk(expr, found)
    return found


def _walk(expr: Any, found: set[str]) -> None:
    if isinstance(expr, list):
        for e in expr:
            _walk(e, found)
        return
    if not isinstance(expr, dict):
        return
    if len(expr) == 1:
        ((key, arg),) = expr.items()
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
            return
        if key == "Fn::GetAtt":
            name = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0] if arg else None
            if isinstance(name, str):
                found.add(name)
            return
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            local = set(names) if isinstance(names, dict) else set()
            for m in _SUB.findall(text if isinstance(text, str) else ""):
                name = m.strip().split(".", 1)[0]
                if name not in local:
                    found.add(name)
            _walk(names, found)
            return
    for v in expr.values():
        _walk(v, found)


def attributes(expr: Any) -> set[tuple[str, str]]:
    """The (logical id, attribute) pairs ``expr`` reads with ``Fn::GetAtt`` or
    ``${Name.Attribute}`` in ``Fn::Sub`` (an attribute given by a function: skipped)."""
    found: set[tuple[str, str]] = set()
    _attrs(expr, found)
    return found


def _attrs(expr: Any, found: set[tuple[str, str]]) -> None:
    if isinstance(expr, list):
        for e in expr:
            _attrs(e, found)
        return
    if not isinstance(expr, dict):
        return
    if len(expr) == 1:
        ((key, arg),) = expr.items()
        if key == "Fn::GetAtt":
            pair = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
                found.add((pair[0], pair[1]))
            return
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else ""
            for m in _SUB.findall(text if isinstance(text, str) else ""):
                name, dot, attr = m.strip().partition(".")
                if dot:
                    found.add((name, attr))
            if isinstance(arg, list) and len(arg) == 2:
                _attrs(arg[1], found)
            return
    for v in expr.values():
        _attrs(v, found)


def order(dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """The names sorted so that each follows its dependencies (ties: template order)."""
    deps = {name: [d for d in ds if d in dependencies] for name, ds in dependencies.items()}
    done: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: placed

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name) :]
            raise ValidationError(f"Circular dependency between resources: {sorted(set(cycle))}")
        state[name] = 1
        path.append(name)
        for dep in deps[name]:
            visit(dep, path)
        path.pop()
        state[name] = 2
        done.append(name)

    for name in deps:
        visit(name, [])
    return done
