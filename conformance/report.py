"""Per-test outcomes from pytest's JUnit XML, the per-file table, and ``results.json``.

pytest runs with ``junit_family=xunit1`` so that every ``testcase`` names its file.
A test's outcome is the worst of its phases: a failure, else an error (setup or
teardown), else skipped (xfail included), else passed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

OUTCOMES = ("passed", "failed", "error", "skipped")
_DETAILS_LIMIT = 6000


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """How one test ended, with pytest's message for anything but a pass."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    file: str
    outcome: str
    duration: float
    message: str = ""
    details: str = ""


def _nodeid(case: ET.Element) -> tuple[str, str]:
    classname = case.get("classname", "")
    name = case.get("name", "")
    file = case.get("file") or ""
    if not file:  # a collection error names the module instead of a test
        dotted = classname or name
        file = dotted.replace(".", "/") + ".py"
        return (file if not classname else f"{file}::{name}"), file
    module = file.removesuffix(".py").replace("/", ".")
    classes = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    parts = [file, *classes.split(".")] if classes else [file]
    return "::".join([*parts, name]), file


def parse_junit(path: Path) -> list[TestOutcome]:
    """Every test case in a JUnit XML file written by pytest."""
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid, file = _nodeid(case)
        outcome, message, details = "passed", "", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = element.get("message", "")
                details = (element.text or "")[-_DETAILS_LIMIT:]
                break
        outcomes.append(
            TestOutcome(
                nodeid=nodeid,
                file=file,
                outcome=outcome,
                duration=float(case.get("time", "0") or 0),
                message=message,
                details=details,
            )
        )
    return outcomes


def per_file(outcomes: Iterable[TestOutcome]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        counts.setdefault(outcome.file, Counter())[outcome.outcome] += 1
    return dict(sorted(counts.items()))


def table(outcomes: Sequence[TestOutcome]) -> str:
    """passed/failed/error/skipped per file, with a total line."""
    counts = per_file(outcomes)
    total: Counter[str] = Counter(o.outcome for o in outcomes)
    names = [Path(f).name for f in counts] + ["TOTAL"]
    width = max(len(n) for n in names)
    header = f"{'file':<{width}}  " + "  ".join(f"{c:>7}" for c in (*OUTCOMES, "total"))
    rule = "-" * len(header)
    lines = [header, rule]
    for file, count in [*counts.items(), ("TOTAL", total)]:
        if file == "TOTAL":
            lines.append(rule)
        cells = [count[o] for o in OUTCOMES] + [sum(count.values())]
        lines.append(f"{Path(file).name:<{width}}  " + "  ".join(f"{c:>7}" for c in cells))
    return "\n".join(lines)


def write_results(
    path: Path,
    outcomes: Sequence[TestOutcome],
    exchanges: Mapping[str, Sequence[Mapping[str, object]]],
    meta: Mapping[str, object],
) -> None:
    """Write ``results.json``: the run, the totals, and every test's outcome.

    Tests that did not pass carry the lambdad requests they made (``exchanges``),
    shortened, in the order lambdad answered them.
    """
    tests = []
    for outcome in outcomes:
        entry: dict[str, object] = asdict(outcome)
        if outcome.outcome in ("failed", "error"):
            entry["lambdad_exchanges"] = list(exchanges.get(outcome.nodeid, []))
        tests.append(entry)
    document = {
        "run": dict(meta),
        "totals": dict(Counter(o.outcome for o in outcomes)),
        "files": {file: dict(count) for file, count in per_file(outcomes).items()},
        "tests": tests,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
