"""Shell completion: ``--show-completion [SHELL]`` and ``--install-completion [SHELL]``.

Part of the CLI layer. Typer's own options find the shell from the process tree only:
where that shows none (a background job) they print ``Shell  not supported.``, where it
shows ``sh`` (cron, a script) they offer nothing, and a shell named after the option is
ignored. Here the shell named after the option wins, then one with completion in the
process tree, then the login shell (``$SHELL``); without one, one error line says how to
name it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import typer

__all__ = ["OPTIONS", "SHELLS", "NoShell", "complete", "requested"]

OPTIONS = ("--install-completion", "--show-completion")
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


class NoShell(typer.TyperException):
    """No completion for the shell: none was named and the current one is unknown or has
    none, or its script could not be installed."""

    exit_code = 2


def requested(argv: Sequence[str]) -> tuple[str, str | None] | None:
    """The completion option the command line names, and the shell named with it
    (``--show-completion zsh`` or ``--show-completion=zsh``)."""
    for i, arg in enumerate(argv):
        option, equals, shell = arg.partition("=")
        if option in OPTIONS:
            if equals:
                return option, shell.lower()
            after = argv[i + 1] if i + 1 < len(argv) else None
            return option, after.lower() if after and not after.startswith("-") else None
    return None


def current_shell() -> str | None:
    """The shell this runs under: from the process tree, else (none found there, or one
    without completion, such as the ``sh`` of cron) the login shell, ``$SHELL``."""
    import shellingham

    try:
        name = str(shellingham.detect_shell()[0]).lower()
    except shellingham.ShellDetectionFailure:
        name = ""
    if name not in SHELLS:
        login = Path(os.environ.get("SHELL", "")).name.removesuffix(".exe").lower()
        name = login if login in SHELLS else name
    return name or None


def complete(option: str, shell: str | None, *, prog_name: str, complete_var: str) -> None:
    """Print or install the completion script for ``shell`` (the current one if ``None``).

    Raises:
        NoShell: no shell was named and the current one is unknown or has no completion,
            or the script could not be installed.
    """
    # typer.completion imports these from here too; they take the shell as an argument
    from typer._completion_shared import get_completion_script, install

    named = shell is not None
    shell = shell if named else current_shell()
    if shell not in SHELLS:
        if named:
            told = f"no completion for shell {shell!r}"
        elif shell:
            told = f"no completion for this shell ({shell}); name one"
        else:
            told = "cannot tell which shell this is; name it"
        raise NoShell(f"{told}: {option} {', '.join(SHELLS[:-1])} or {SHELLS[-1]}")
    if option == "--show-completion":
        typer.echo(
            get_completion_script(prog_name=prog_name, complete_var=complete_var, shell=shell)
        )
        return
    try:
        _, path = install(shell=shell, prog_name=prog_name, complete_var=complete_var)
    except OSError as exc:  # a read-only home; PowerShell asked where none is installed
        raise NoShell(f"cannot install {shell} completion: {exc}") from exc
    typer.echo(f"{shell} completion installed in {path}; it works in shells started from now")
