"""What a user sees on a real terminal (a pty): the progress bar, and what stays off it.

Each test runs the installed ``aura-async`` with its stderr (and stdin) on a pseudo-terminal,
as a shell would, and reads what the terminal received.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from aura_async.emulator import Emulator

from .conftest import write_config

AURA = Path(sys.executable).parent / "aura-async"
README = Path(__file__).parent.parent / "README.md"
BAR = "━"  # rich's bar; plain log lines never hold it
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING|ERROR)", re.M)


def on_terminal(
    command: list[str], cwd: Path, *, stdout_on_terminal: bool = False
) -> tuple[int, str, str]:
    """Run ``command`` with stdin and stderr (and stdout if asked) on a 120-column pty.

    Returns:
        The exit code, what the terminal received, and stdout when it was a pipe.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
    env.update(TERM="xterm-256color", PATH=f"{AURA.parent}:{env.get('PATH', '/usr/bin:/bin')}")
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave if stdout_on_terminal else subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has gone
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stdout = ""
    if proc.stdout is not None:
        with proc.stdout:
            stdout = proc.stdout.read().decode()
    code = proc.wait(timeout=25)
    reader.join(timeout=25)
    os.close(master)
    return code, received.decode("utf-8", "replace"), stdout


def test_json_on_a_terminal_keeps_the_bar(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--json on a terminal: JSON alone on stdout, the progress bar (not per-file lines) on
    the terminal."""
    config = write_config(threaded_emulator, tmp_path)
    code, terminal, stdout = on_terminal(
        [str(AURA), "--config", str(config), "myframe", "--json", "--rate", "0"], tmp_path
    )
    assert code == 0
    (summary,) = [json.loads(line) for line in stdout.splitlines()]
    assert summary["downloaded"] == 37
    assert BAR in terminal
    assert "37/37" in terminal
    assert "downloaded 20" not in terminal  # no line per file
    assert "{" not in terminal


def test_debug_on_a_terminal_keeps_the_bar(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--debug on a terminal adds its lines above the bar instead of replacing the bar."""
    config = write_config(threaded_emulator, tmp_path)
    code, terminal, _ = on_terminal(
        [str(AURA), "--config", str(config), "myframe", "--debug", "--rate", "0"], tmp_path
    )
    assert code == 0
    assert BAR in terminal
    assert "downloaded 20" in terminal  # the per-file detail --debug asks for


def test_readme_plain_lines_command_gives_plain_lines(tmp_path: Path) -> None:
    """The README's command for plain lines gives them on a terminal too: no bar drawn."""
    session = README.read_text(encoding="utf-8").split("\n$ aura-async --demo", 1)[1]
    command = "aura-async --demo" + session.split("\n", 1)[0]
    assert "|" in command
    # The README's command, run faster: no rate ceiling, more workers, in tmp_path.
    quick = command.replace("--demo", "--demo --rate 0 -j 8", 1)
    code, terminal, _ = on_terminal(["bash", "-c", quick], tmp_path, stdout_on_terminal=True)
    assert code == 0
    assert BAR not in terminal
    assert "\x1b[" not in terminal  # no cursor movement, no colour
    lines = terminal.strip().splitlines()
    assert len(STAMP.findall(terminal)) == len(lines)
    assert "demo: 262 downloaded, 0 skipped, 0 failed" in terminal
