"""How the command presents itself: ``--help`` in panels with examples, and one error style.

Part of the CLI layer. ``--help`` is plain text (no rich: it reads the same on a terminal,
under ``| less`` and in a pipe), grouped by each option's ``rich_help_panel``, Typer's own
attribute for that. Errors of the command line (an unknown option, a value out of range)
read like every other error of the command: ``aura-async: error: ...``, exit 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperOption

from aura_async.cli.completion import OPTIONS as COMPLETION_OPTIONS
from aura_async.cli.completion import complete, requested
from aura_async.cli.stdout import run_object

__all__ = [
    "ACTIONS",
    "EXAMPLES",
    "LAYOUT",
    "MAINTENANCE",
    "METADATA",
    "NETWORK",
    "PANELS",
    "SCRIPTING",
    "SELECTION",
    "AuraCommand",
    "error_line",
]

ACTIONS = "Frames and actions"
SELECTION = "Selection"
LAYOUT = "Layout"
METADATA = "Metadata"
NETWORK = "Network and throttling"
SCRIPTING = "Scripting"
MAINTENANCE = "Maintenance"
PANELS = (ACTIONS, SELECTION, LAYOUT, METADATA, NETWORK, SCRIPTING, MAINTENANCE)
"""The option groups of ``--help``, in the order shown."""

_PANEL_OF = {"install_completion": MAINTENANCE, "show_completion": MAINTENANCE, "help": MAINTENANCE}
"""Options Typer adds itself, which carry no panel."""

EXAMPLES = (
    ("aura-async --setup", "log in, pick folders, save config"),
    ("aura-async --demo", "try it on an emulated Aura"),
    ("aura-async kitchen", "download the frame [kitchen]"),
    ("aura-async --all --years", "every frame, in year folders"),
    ("aura-async kitchen --dry-run", "what would be fetched"),
    ("aura-async --all -q --json >> log.jsonl", "a nightly run, for cron"),
    ("aura-async --status", "last runs, missing files, locks"),
)
"""Shown by ``--help``: a command and what it does."""


def error_line(message: str) -> str:
    """The one form of every error the command reports before a run starts."""
    return f"aura-async: error: {message}"


class AuraCommand(TyperCommand):
    """The ``aura-async`` command: help in panels with examples, errors in one style, and
    shell completion that costs nothing unless it is used.

    Typer's completion options (``add_completion``) would be built at every start, like
    every option (about 1 ms); here they join the command only for a command line that
    names them and for ``--help``, and the completion machinery starts only when a shell
    asks for completions.
    """

    def _with_completion(self) -> None:
        if any(param.name == "install_completion" for param in self.params):
            return
        from typer.main import get_install_completion_arguments

        install, show = get_install_completion_arguments()
        for param, text in (
            (
                install,
                "Install tab completion for the shell named after it (bash, zsh, fish, "
                "powershell, pwsh), else for the current one.",
            ),
            (show, "Print that completion script instead, to install it yourself."),
        ):
            if isinstance(param, TyperOption):
                param.help = text
        self.params.extend((install, show))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse, with the completion options when the command line names one."""
        if any(arg.startswith(COMPLETION_OPTIONS) for arg in args):
            self._with_completion()
        return list(super().parse_args(ctx, args))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Help, completion options included."""
        self._with_completion()
        super().format_help(ctx, formatter)

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        """The description, then the examples."""
        super().format_help_text(ctx, formatter)
        with formatter.section("Examples"):
            width = max(len(example) for example, _ in EXAMPLES)
            for example, what in EXAMPLES:
                formatter.write(f"{'':>{formatter.current_indent}}{example:<{width}}  # {what}\n")

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Arguments, then the options panel by panel."""
        arguments = []
        panels: dict[str, list[tuple[str, str]]] = {panel: [] for panel in PANELS}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
                continue
            panel = getattr(param, "rich_help_panel", None) or _PANEL_OF.get(
                param.name or "", MAINTENANCE
            )
            panels.setdefault(panel, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for panel, records in panels.items():
            if records:
                with formatter.section(panel):
                    formatter.write_dl(records)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; a bad command line is one ``aura-async: error:`` line, exit 2
        (with ``--json``, also the run's JSON object on stdout)."""
        argv = list(sys.argv[1:] if args is None else args)
        started = time.time()
        name = prog_name or "aura-async"
        variable = complete_var or f"_{name.replace('-', '_').upper()}_COMPLETE"
        asking = os.environ.get(variable)
        if asking:  # a shell asks: completions
            from typer.completion import get_completion_inspect_parameters

            get_completion_inspect_parameters()  # registers Typer's shells, as typer would
            self._with_completion()
        wanted = None if asking else requested(argv)
        try:
            if wanted is not None:  # print or install a completion script, and nothing else
                complete(*wanted, prog_name=name, complete_var=variable)
                code = 0
            else:
                code = super().main(
                    argv,
                    prog_name,
                    complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
        except typer.TyperException as exc:  # click's usage errors: a bad option or value
            message = exc.format_message().rstrip(".")
            typer.echo(error_line(f"{message} (see aura-async --help)"), err=True)
            code = getattr(exc, "exit_code", 2)
            if "--json" in argv:
                typer.echo(json.dumps(run_object(started, time.time(), code, message)))
        except typer.Abort:  # end of input at a prompt (--setup)
            typer.echo(error_line("no answer: stopped"), err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code or 0)
