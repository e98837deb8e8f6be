"""The command line: the Typer app, what each action does, and the console.

This layer is the only code that prints, exits or reads the environment.
"""

from aura_async.cli.command import ExitCode, app, main

__all__ = ["ExitCode", "app", "main"]
