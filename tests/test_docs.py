"""The README documents every option of the command, and its quick start is two commands."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from aura_async.cli import app

README = Path(__file__).parent.parent / "README.md"


def options() -> list[str]:
    command = typer.main.get_command(app)
    names = []
    for param in command.params:
        if param.param_type_name == "option":
            names += [o for o in param.opts if o.startswith("--")]
    return names


def test_every_option_is_in_the_readme() -> None:
    """Each --option of the command appears in README.md."""
    text = README.read_text(encoding="utf-8")
    missing = [o for o in options() if not re.search(rf"`{re.escape(o)}\b", text)]
    assert missing == []


def test_quick_start_is_two_commands() -> None:
    """The quick start holds exactly two shell commands: the demo and the tests."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if not line.startswith("#")]
    assert len(commands) == 2
    assert "--demo" in commands[0]
    assert "pytest" in commands[1]
