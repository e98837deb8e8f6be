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


EXAMPLES = README.parent / "examples"
INSTALLED = re.compile(
    r"(?:\$HOME|~|%h|/Users/you)/\.local/bin/aura-async\b|%USERPROFILE%\\\.local\\bin\\aura-async"
)


def recipe_texts() -> dict[str, str]:
    """The README's sections from Configuration to Nightly runs, and every example (the
    quick start, Install, the benchmarks and Development run other builds on purpose)."""
    text = README.read_text(encoding="utf-8")
    recipes = {"README": text.split("\n## Configuration", 1)[1].split("\n## Performance")[0]}
    for path in sorted(EXAMPLES.rglob("*")):
        if path.is_file() and path.suffix != ".py":
            recipes[str(path.relative_to(README.parent))] = path.read_text(encoding="utf-8")
    return recipes


def test_every_recipe_runs_the_recommended_install() -> None:
    """Each scheduler recipe runs aura-async from ~/.local/bin, where Install puts it, and
    logs where a normal user may write."""
    for name, text in recipe_texts().items():
        for line in text.splitlines():
            # A path to the command (not to a unit file such as aura-async.service).
            paths = re.findall(r"\S*[/\\]aura-async(?:\.exe)?(?![\w.-])", line)
            for path in paths:
                assert INSTALLED.search(path), f"{name}: {line}"
        assert "/var/log" not in text, name
        assert "/opt/" not in text, name
    install = README.read_text(encoding="utf-8").split("\n## Install\n", 1)[1].split("\n## ")[0]
    assert "pipx install ." in install
    assert "ln -sf ~/.local/share/aura-async/bin/aura-async ~/.local/bin/" in install
