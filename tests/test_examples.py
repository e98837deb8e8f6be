"""The scheduler examples in examples/ parse, name real options, and their command works.

None of these tests needs systemd, launchd or Windows: the unit files are read as INI, the
plist with plistlib, and the cron line is run with bash against the emulator.
"""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import app
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.store.lock import FolderLock

from .conftest import small_config, write_config

EXAMPLES = Path(__file__).parent.parent / "examples"
CRON = EXAMPLES / "cron.txt"
SERVICE = EXAMPLES / "systemd" / "aura-async.service"
TIMER = EXAMPLES / "systemd" / "aura-async.timer"
PLIST = EXAMPLES / "launchd" / "com.example.aura-async.plist"
WINDOWS = EXAMPLES / "windows" / "aura-async-task.cmd"
EXAMPLE_FILES = [CRON, SERVICE, TIMER, PLIST, WINDOWS, EXAMPLES / "README.md"]

# aura-async (or the Windows script's variable holding its path) followed by its arguments.
COMMAND = re.compile(r"(?:aura-async(?:\.exe)?|%AURA_EXE%)(?=[\s\"\\`])(?P<args>.*)$", re.M)
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(
        frames=[
            FrameSpec(photos=12, videos=1, live_photos=1, placeholders=1, hidden=1),
            FrameSpec(name="Grandma", photos=5, videos=0, live_photos=0, placeholders=0, hidden=0),
        ]
    )


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are CamelCase
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def cron_jobs() -> list[str]:
    """The job lines of cron.txt (neither comments nor blank)."""
    lines = CRON.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def schedule_and_command(line: str) -> tuple[list[str], str]:
    fields = line.split(None, 5)
    return fields[:5], fields[5]


def options_in(text: str) -> set[str]:
    """Options given to aura-async in ``text``: on its command lines, in backticks, in lists."""
    found: set[str] = set()
    for match in COMMAND.finditer(text):
        found |= set(OPTION.findall(match["args"]))
    found |= set(re.findall(r"`(--[a-z][a-z-]*)", text))
    found |= set(re.findall(r"^#\s+(--[a-z][a-z-]*)\s", text, re.M))
    return found


def help_text() -> str:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    return result.output


def in_help(option: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


class TestLaunchd:
    def test_plist_runs_aura_async_for_every_frame(self) -> None:
        """The plist is valid, runs aura-async --all at 03:00 and names its output files."""
        with PLIST.open("rb") as f:
            plist = plistlib.load(f)
        args = plist["ProgramArguments"]
        assert Path(args[0]).name == "aura-async"
        assert Path(args[0]).is_absolute()  # launchd expands neither ~ nor $HOME
        assert "--all" in args
        assert plist["StartCalendarInterval"] == {"Hour": 3, "Minute": 0}
        assert plist["StandardOutPath"].startswith("/")
        assert plist["StandardErrorPath"].startswith("/")
        assert "AURA_CONFIG" in plist["EnvironmentVariables"]


class TestSystemd:
    def test_service_is_a_oneshot_run_of_every_frame(self) -> None:
        """The service runs aura-async --all once, idle-priority, and a held lock is no failure."""
        service = unit(SERVICE)["Service"]
        assert service["Type"] == "oneshot"
        command = service["ExecStart"].split()
        assert command[0].endswith("/aura-async")
        assert "--all" in command
        assert "6" in service["SuccessExitStatus"].split()
        assert "1" not in service["SuccessExitStatus"].split()
        assert service["Environment"].startswith("AURA_CONFIG=")
        assert service["IOSchedulingClass"] == "idle"
        assert int(service["Nice"]) > 0

    def test_timer_is_nightly_and_catches_up(self) -> None:
        """The timer fires daily, with a random delay, and runs a missed night on boot."""
        timer = unit(TIMER)
        assert timer["Timer"]["OnCalendar"]
        assert timer["Timer"]["Persistent"] == "true"
        assert timer["Timer"]["RandomizedDelaySec"]
        assert timer["Install"]["WantedBy"] == "timers.target"

    @pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
    def test_systemd_analyze_accepts_the_units(self, tmp_path: Path) -> None:
        """Where systemd-analyze exists, it verifies both user units without a complaint."""
        bin_dir = tmp_path / ".local" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "aura-async").symlink_to(Path(sys.executable).parent / "aura-async")
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
        result = subprocess.run(
            ["systemd-analyze", "--user", "verify", str(SERVICE), str(TIMER)],  # noqa: S607
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode, result.stderr) == (0, "")


class TestCron:
    def test_nightly_and_weekly_lines(self) -> None:
        """cron.txt holds a nightly and a weekly job, both quiet --all runs with a log file."""
        (night, _), (week, _) = (schedule_and_command(line) for line in cron_jobs())
        assert night == ["0", "3", "*", "*", "*"]
        assert week[4] == "0"  # Sunday
        for line in cron_jobs():
            _, command = schedule_and_command(line)
            assert "%" not in command  # cron turns % into a newline
            for option in ("--all", "--quiet", "--json", "--log-file"):
                assert option in command.split()

    def setup_home(self, emu: Emulator, home: Path) -> None:
        """A user's home as cron.txt expects it: aura-async, the config and ~/aura."""
        bin_dir = home / ".local" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "aura-async").symlink_to(Path(sys.executable).parent / "aura-async")
        config_dir = home / "etc" / "aura"
        config_dir.mkdir(parents=True)
        write_config(emu, config_dir)
        (home / "aura").mkdir()

    def run_nightly(self, home: Path) -> subprocess.CompletedProcess[str]:
        _, command = schedule_and_command(cron_jobs()[0])
        # cron's environment: HOME, a bare PATH, no terminal.
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LOGNAME": "aura", "SHELL": "/bin/sh"}
        return subprocess.run(
            ["bash", "-c", command],  # noqa: S607
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=25,
        )

    def test_nightly_line_downloads_silently(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """The nightly command exits 0, prints nothing, and appends JSON lines and a log."""
        self.setup_home(threaded_emulator, tmp_path)
        for night in (1, 2):
            result = self.run_nightly(tmp_path)
            assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
            lines = (tmp_path / "aura" / "nightly.jsonl").read_text().splitlines()
            summaries = [json.loads(line) for line in lines]
            assert len(summaries) == 2 * night
            assert {s["frame"] for s in summaries} == {"myframe", "frame2"}
            assert all(s["failed"] == 0 for s in summaries)
        first, second = summaries[:2], summaries[2:]
        assert all(s["downloaded"] > 0 for s in first)
        assert all(s["downloaded"] == 0 and s["skipped"] > 0 for s in second)
        log = (tmp_path / "aura" / "nightly.log").read_text()
        assert "downloaded " in log
        assert "myframe:" in log

    def test_overlapping_run_exits_6_and_says_so(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """While another run holds a frame's folder, the nightly line exits 6 with a message."""
        self.setup_home(threaded_emulator, tmp_path)
        config = configparser.ConfigParser(interpolation=None)
        config.read(tmp_path / "etc" / "aura" / "credentials.ini")
        with FolderLock(Path(config["myframe"]["file_path"])):
            result = self.run_nightly(tmp_path)
        assert result.returncode == 6
        assert "another aura-async run" in result.stderr  # shown despite --quiet: cron mails it


class TestOptions:
    def test_every_option_in_the_examples_exists(self) -> None:
        """Each aura-async option the examples use or mention is in aura-async --help."""
        text = help_text()
        used = set().union(*(options_in(p.read_text(encoding="utf-8")) for p in EXAMPLE_FILES))
        assert {"--all", "--quiet", "--json", "--log-file"} <= used
        missing = sorted(o for o in used if not in_help(o, text))
        assert missing == []
