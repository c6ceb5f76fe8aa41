"""A repeatable option that also takes every following ``KEY=VALUE`` argument, as SAM
CLI's ``--parameter-overrides A=1 B=2`` does unquoted (click gives an option one value).

Each argument taken counts as if the option had been repeated before it, so the quoted
form (``"A=1 B=2"``) and repeating the option mean what they meant. Taking stops at the
next option or at an argument without ``=`` (the template's path). Where click's parser
does not look as expected, the option is an ordinary repeatable one.
"""

from __future__ import annotations

from typing import Any

import click


def _takes(arg: str) -> bool:
    return "=" in arg and not arg.startswith("-")


class GreedyOption(click.Option):
    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        table = getattr(parser, "_long_opt", None)
        found = next((table[o] for o in self.opts if isinstance(table, dict) and o in table), None)
        process = getattr(found, "process", None)
        if found is None or process is None:
            return

        def greedy(value: Any, state: Any) -> None:
            process(value, state)
            rest = getattr(state, "rargs", None)
            while isinstance(rest, list) and rest and _takes(str(rest[0])):
                process(rest.pop(0), state)

        found.process = greedy
