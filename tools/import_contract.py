"""lambdad's import contract and module sizes, checked by ``make lint``.

The contract is DESIGN.md §2 as issue 13 states it: each top-level part of
``src/lambdad`` may import only the parts listed for it in ``ALLOWED`` (and the base);
no module imports another part's private (``_name``) members; there are no import
cycles between modules. Every import counts: at module level, inside functions, and
under ``if TYPE_CHECKING:`` (a type-level arrow that points up is still an arrow up).
Imports made by string (``importlib.import_module``) are not seen.

import-linter was the other choice; this is ~300 lines of ``ast`` instead because the
contract needs an allowlist of single module-to-module edges with a reason each,
cycle detection between modules (not only between layers), a check of private names
and module sizes, in one report — and it adds no dependency.

A violation that must live for a while is listed in ``ALLOWED_EDGES`` or
``ALLOWED_CYCLES``, naming the work that removes it (both are empty today). Any other
violation fails the build. An entry that no longer matches anything is reported as
stale (remove it), without failing.

Module sizes: none over ``MAX_LINES`` (600) except the files copied into
environments, listed in ``SIZE_EXEMPT`` with the reason, and any over-size module in
``ALLOWED_OVERSIZE`` (none today); the median at most ``MEDIAN_LINES`` (150).

Run: ``python tools/import_contract.py`` (from the repository root; exit 1 on a
violation).
"""

from __future__ import annotations

import ast
import statistics
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "lambdad"

# The base: any part may import these; they import only each other (and cycles between
# their modules are still forbidden). ``lambdad`` itself is the package's __init__.
BASE = frozenset({PACKAGE, "model", "store", "errors", "config", "clock", "secrets", "outbound"})

# Everything a part may import besides the base. ``ANY`` for the composition root.
ANY = frozenset({"*"})
ALLOWED: Mapping[str, frozenset[str]] = {
    # The composition root builds everything.
    "server": ANY,
    "platform": ANY,
    # The command line is an HTTP client of the API; ``serve`` and ``doctor`` go
    # through ``server`` (which starts the platform and answers for the host's probes).
    "cli": frozenset({"api", "server"}),
    "api": frozenset({"control", "invoke", "observe"}),
    "events": frozenset({"invoke", "control", "observe"}),
    "console": frozenset({"api"}),
    # Stacks: planned from templates, applied through the API over HTTP (boto3, as the
    # caller); ``api`` for the request context of the CloudFormation subset it answers.
    "deploy": frozenset({"api"}),
    "invoke": frozenset({"control", "environments", "observe"}),
    "environments": frozenset({"sandbox", "runtimes", "observe"}),
    "sandbox": frozenset({"runtimes"}),
    "runtimes": frozenset(),
    "control": frozenset(),
    "observe": frozenset(),
    **{name: frozenset() for name in BASE},
}

# Current violations: (importer, imported) module edges, each with the issue-13 work
# that removes it. Remove an entry when that work lands (the report names stale ones).
ALLOWED_EDGES: Mapping[tuple[str, str], str] = {}

# Current import cycles between modules, as the set of modules in the cycle (a
# strongly connected component), each with the issue-13 work that breaks it. A cycle
# is tolerated only while all its modules lie inside one listed set.
ALLOWED_CYCLES: Mapping[frozenset[str], str] = {}

MAX_LINES = 600
MEDIAN_LINES = 150
# One idea per module: the median is enforced (issue 13's splits brought it under).
ENFORCE_MEDIAN = True

# Not lambdad's modules: not in the graph, not counted.
EXCLUDED = ("lambdad.runtimes.python.sdk",)  # the AWS SDK copied for functions

# Files copied into every execution environment and run there as scripts: each is one
# program that must start from a single file (no package to import its parts from),
# so each stays whole. runtimes/nodejs/bootstrap.js is in the same position but is
# not a Python module, so it is not counted here.
SIZE_EXEMPT: Mapping[str, str] = {
    "lambdad.runtimes.python.bootstrap": "copied into environments: the Python runtime loop",
    "lambdad.runtimes.python.zygote": "copied into environments: the zygote's fork server",
    "lambdad.runtimes.python.snapstart": "copied into environments: SnapStart's template",
}

# Modules over MAX_LINES today, each with the issue-13 work that splits it.
ALLOWED_OVERSIZE: Mapping[str, str] = {}


# -- the graph --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    source: str
    is_package: bool = False


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str
    line: int
    names: tuple[str, ...] = ()


@dataclass(slots=True)
class Graph:
    modules: dict[str, Module] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {name: set() for name in self.modules}
        for imp in self.imports:
            if imp.imported != imp.importer:
                out[imp.importer].add(imp.imported)
        return out


def part(module: str) -> str:
    """``lambdad.control.functions`` -> ``control``; ``lambdad`` -> ``lambdad``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def read_package(src: Path) -> list[Module]:
    """Every module of the package at ``src`` (``src/lambdad``)."""
    modules = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).with_suffix("")
        pieces = list(rel.parts)
        is_package = pieces[-1] == "__init__"
        if is_package:
            pieces.pop()
        name = ".".join(pieces)
        if any(name == x or name.startswith(x + ".") for x in EXCLUDED):
            continue
        modules.append(Module(name, path.read_text(encoding="utf-8"), is_package))
    return modules


def build_graph(modules: Iterable[Module]) -> Graph:
    graph = Graph({m.name: m for m in modules})
    for module in graph.modules.values():
        tree = ast.parse(module.source, filename=module.name)
        for node in ast.walk(tree):
            graph.imports.extend(_imports_of(node, module, graph.modules))
    return graph


def _imports_of(node: ast.AST, module: Module, known: Mapping[str, Module]) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            target = _known_prefix(alias.name, known)
            if target is not None:
                yield Import(module.name, target, node.lineno)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node, module)
        if base is None:
            return
        plain: list[str] = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in known:
                # ``from lambdad.control import credentials``: the module itself.
                yield Import(module.name, submodule, node.lineno)
            else:
                plain.append(alias.name)
        if plain:
            target = _known_prefix(base, known)
            if target is not None:
                yield Import(module.name, target, node.lineno, tuple(plain))


def _absolute(node: ast.ImportFrom, module: Module) -> str | None:
    if node.level == 0:
        return node.module
    package = module.name.split(".")
    if not module.is_package:
        package.pop()
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    if not package:
        return None
    return ".".join([*package, node.module] if node.module else package)


def _known_prefix(name: str, known: Mapping[str, Module]) -> str | None:
    """The longest prefix of the dotted ``name`` that is one of the package's modules."""
    pieces = name.split(".")
    while pieces:
        candidate = ".".join(pieces)
        if candidate in known:
            return candidate
        pieces.pop()
    return None


# -- the rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # "layer", "private", "cycle", "unknown part", "size"
    key: tuple[str, str] | frozenset[str] | str
    message: str


@dataclass(frozen=True, slots=True)
class Contract:
    allowed: Mapping[str, frozenset[str]] = field(default_factory=lambda: ALLOWED)
    base: frozenset[str] = BASE
    allowed_edges: Mapping[tuple[str, str], str] = field(default_factory=lambda: ALLOWED_EDGES)
    allowed_cycles: Mapping[frozenset[str], str] = field(default_factory=lambda: ALLOWED_CYCLES)

    def may_import(self, importer: str, imported: str) -> bool:
        a, b = part(importer), part(imported)
        if a == b or b in self.base:
            return True
        targets = self.allowed.get(a, frozenset())
        return "*" in targets or b in targets


@dataclass(slots=True)
class Report:
    violations: list[Violation] = field(default_factory=list)
    tolerated: list[Violation] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_imports(graph: Graph, contract: Contract | None = None) -> Report:
    contract = contract or Contract()
    report = Report()
    used_edges: set[tuple[str, str]] = set()
    for name in sorted(graph.modules, key=len):
        if part(name) not in contract.allowed and not any(
            v.key == part(name) for v in report.violations
        ):
            report.violations.append(
                Violation(
                    "unknown part",
                    part(name),
                    f"{name}: part {part(name)!r} is not in the contract "
                    "(add it to ALLOWED in tools/import_contract.py)",
                )
            )
    seen: set[tuple[str, str, str]] = set()
    for imp in sorted(graph.imports, key=lambda i: (i.importer, i.line)):
        edge = (imp.importer, imp.imported)
        found: list[Violation] = []
        if not contract.may_import(*edge):
            found.append(
                Violation(
                    "layer",
                    edge,
                    f"{imp.importer}:{imp.line} imports {imp.imported}: "
                    f"{part(imp.importer)} may not import {part(imp.imported)}",
                )
            )
        private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if part(imp.importer) != part(imp.imported) and private:
            found.append(
                Violation(
                    "private",
                    edge,
                    f"{imp.importer}:{imp.line} imports private {', '.join(private)} "
                    f"from {imp.imported}",
                )
            )
        for v in found:
            if (v.kind, *edge) in seen:
                continue
            seen.add((v.kind, *edge))
            if edge in contract.allowed_edges:
                used_edges.add(edge)
                report.tolerated.append(v)
            else:
                report.violations.append(v)
    used_cycles: set[frozenset[str]] = set()
    for component in cycles(graph.edges()):
        listed = next((c for c in contract.allowed_cycles if component <= c), None)
        v = Violation("cycle", component, "import cycle: " + " <-> ".join(sorted(component)))
        if listed is None:
            report.violations.append(v)
        else:
            used_cycles.add(listed)
            report.tolerated.append(v)
    report.stale.extend(
        f"ALLOWED_EDGES {a} -> {b}: no longer imported"
        for a, b in contract.allowed_edges
        if (a, b) not in used_edges
    )
    report.stale.extend(
        "ALLOWED_CYCLES {" + ", ".join(sorted(c)) + "}: no longer a cycle"
        for c in contract.allowed_cycles
        if c not in used_cycles
    )
    return report


def cycles(edges: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


# -- sizes --------------------------------------------------------------------------------


def line_count(source: str) -> int:
    return len(source.splitlines())


def check_sizes(
    modules: Iterable[Module],
    *,
    exempt: Mapping[str, str] | None = None,
    allowed_oversize: Mapping[str, str] | None = None,
    enforce_median: bool = ENFORCE_MEDIAN,
) -> Report:
    exempt = SIZE_EXEMPT if exempt is None else exempt
    allowed_oversize = ALLOWED_OVERSIZE if allowed_oversize is None else allowed_oversize
    report = Report()
    counted: list[int] = []
    for module in modules:
        if module.name in exempt:
            continue
        lines = line_count(module.source)
        # A package's __init__ that holds only its docstring is no module of code.
        if not (module.is_package and lines <= 3):
            counted.append(lines)
        if lines > MAX_LINES:
            v = Violation("size", module.name, f"{module.name}: {lines} lines (> {MAX_LINES})")
            if module.name in allowed_oversize:
                report.tolerated.append(v)
            else:
                report.violations.append(v)
    report.stale.extend(
        f"ALLOWED_OVERSIZE {name}: now within {MAX_LINES} lines (or gone)"
        for name in allowed_oversize
        if not any(v.key == name for v in report.tolerated)
    )
    median = statistics.median(counted) if counted else 0
    note = f"module sizes: median {median:g} lines over {len(counted)} modules"
    if median > MEDIAN_LINES:
        note += f" (> {MEDIAN_LINES}"
        if enforce_median:
            report.violations.append(Violation("size", "median", note + ")"))
        else:
            note += ": reported, not yet enforced)"
    report.notes.append(note)
    return report


# -- running it -----------------------------------------------------------------------------


def run(src: Path) -> tuple[Report, Report]:
    modules = read_package(src)
    return check_imports(build_graph(modules)), check_sizes(modules)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path("src") / PACKAGE
    imports, sizes = run(root)
    failed = False
    for title, report in (("import contract", imports), ("module sizes", sizes)):
        for v in report.violations:
            print(f"FAIL {title}: {v.message}")
        for s in report.stale:
            print(f"stale {title} allowlist entry (remove it): {s}")
        for note in report.notes:
            print(note)
        print(f"{title}: {len(report.violations)} violations, {len(report.tolerated)} allowlisted")
        failed = failed or not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
